/**
 * One SSH connection to a host (ssh2), with commands run as channels on it. Secrets travel on
 * a command's stdin, never in its command line or environment. The host key is checked against
 * the config's hostKey, else against the key pinned in Pulumi state at first contact.
 */
import { createHash } from "node:crypto";
import { Client, type ConnectConfig } from "ssh2";

export interface SshTarget {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA...` from config; when set, any other host key is refused. */
  readonly hostKey?: string;
  /** The key seen at first contact and kept in Pulumi state (trust on first use); the config's hostKey wins. */
  readonly pinnedHostKey?: string;
  readonly connectTimeoutSec?: number;
}

/** How a dynamic resource names its host: the connection settings from config, the key as a Pulumi secret. */
export interface HostConnectionInputs {
  readonly host: string;
  readonly connection: { readonly address: string; readonly port: number; readonly user: string; readonly hostKey?: string };
  /** A Pulumi secret. */
  readonly privateKey: string;
}

/** `pinned`: the host key an earlier operation saw (the resource's state), checked when config gives none. */
export function sshTargetOf(inputs: HostConnectionInputs, pinned?: string | null): SshTarget {
  const { host, connection, privateKey } = inputs;
  return { host, address: connection.address, port: connection.port, user: connection.user, hostKey: connection.hostKey, ...(pinned ? { pinnedHostKey: pinned } : {}), privateKey };
}

/** Single-quotes a value for the host's shell. */
export function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `ssh-ed25519 AAAA…` from the raw key blob a server offers (its first field names the type). */
export function formatHostKey(blob: Buffer): string {
  const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + typeLength).toString("ascii") || "unknown";
  return `${type} ${blob.toString("base64")}`;
}

/** The fingerprint ssh-keygen -l prints: SHA256 of the key blob, base64 without padding. */
export function hostKeyFingerprint(key: string): string {
  const blob = Buffer.from(key.split(" ")[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class DeployError extends Error {
  /** The message without the host: what a caller that adds its own context wraps. */
  readonly reason: string;
  /** The exit status of the host command that failed, when one did (a lease's command). */
  exitCode?: number;

  constructor(
    readonly host: string,
    reason: string,
  ) {
    super(`host ${host}: ${reason}`);
    // Set again by hand: in the provider as Pulumi serializes it, the class becomes a function
    // whose super call does not set the message, and the engine would show an empty error.
    this.message = `host ${host}: ${reason}`;
    this.reason = reason;
    this.name = "DeployError";
  }
}

/** Exit status of GNU timeout when the command ran out of time. */
const TIMED_OUT = 124;

export class HostSession {
  /** Bytes written to command stdin over this connection (the upload cost of a deployment). */
  bytesSent: number;
  commands: number;
  /** Why the connection ended, once it has: named in the error of every command it cut. */
  lost: string | undefined;

  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
    /** The key the host offered (`type base64`): pinned in state after a first contact. */
    readonly hostKey: string,
  ) {
    // Set here, not as field initializers: Pulumi serializes this class into the dynamic
    // provider from its constructor and methods, and initializers would be lost (bytesSent was
    // NaN under the real engine, and an output the engine cannot encode failed the update).
    this.bytesSent = 0;
    this.commands = 0;
    this.lost = undefined;
    client.on("error", (err: Error & { code?: string; level?: string }) => (this.lost ??= `${err.code ?? err.level ?? "error"}: ${err.message}`));
    client.on("close", () => (this.lost ??= "closed by the host or the network"));
  }

  static connect(target: SshTarget): Promise<HostSession> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      const expected = target.hostKey ?? target.pinnedHostKey;
      let offered = "";
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        client.destroy();
        reject(new DeployError(target.host, message));
      };
      const config: ConnectConfig = {
        host: target.address,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        // Straight to the key: asking for "none" first, as ssh2 does by default, costs a round trip.
        authHandler: ["publickey"],
        readyTimeout: (target.connectTimeoutSec ?? 20) * 1000,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          offered = formatHostKey(key);
          return !expected || key.toString("base64") === expected.split(" ")[1];
        },
      };
      const where = `${target.user}@${target.address}:${target.port}`;
      // A listener for the whole life of the client: a reset during the handshake emits a second
      // error, which without one would crash the process (and with it a whole `pulumi up`).
      client.on("error", (err: Error & { code?: string }) => {
        if (/hostVerifier|Host denied/i.test(err.message) && offered) return fail(hostKeyMismatch(target, offered));
        fail(`cannot connect to ${where}: ${err.code ? `${err.code}: ` : ""}${err.message}`);
      });
      client.on("close", () => fail(`cannot connect to ${where}: the connection closed during the handshake`));
      client.once("ready", () => {
        if (settled) return;
        settled = true;
        resolve(new HostSession(client, target, offered));
      });
      // Without TCP_NODELAY each of the handshake's small request/answer packets waits for the
      // peer's delayed ACK (Nagle's algorithm): ~40 ms a round trip, 200 ms per connection and
      // 40 ms more per command, where OpenSSH (which sets it) pays a few milliseconds.
      client.once("connect", () => client.setNoDelay(true));
      client.connect(config);
    });
  }

  /**
   * Runs a command; `stdin` (if given) is written and closed. Never throws on a non-zero exit,
   * but does when the command outlives `timeoutSec` (the host stops it: GNU timeout kills its
   * process group) or the connection is lost (the error names why). `onStdout` sees the output
   * as it comes (a command of several steps says which has begun).
   */
  exec(command: string, stdin?: Buffer | string, timeoutSec = 600, onStdout?: (soFar: string) => void): Promise<ExecResult> {
    this.commands++;
    if (process.env.HOMEFLEET_DEBUG_SSH) process.stderr.write(`[${this.target.host}] $ ${command.slice(0, 120)}\n`);
    const what = command.split(/\s+/).slice(0, 3).join(" ");
    const remote = `timeout --kill-after=10 ${timeoutSec} bash -c ${sh(command)}`;
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(this.connectionLost(what));
      this.client.exec(remote, (err, channel) => {
        if (err) return reject(this.lost ? this.connectionLost(what) : new DeployError(this.target.host, `cannot run a command (${what}): ${err.message}`));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | undefined;
        let signal: string | undefined;
        // The host stops the command first; this is for a host that no longer answers at all.
        const timer = setTimeout(() => {
          channel.close();
          reject(new DeployError(this.target.host, `a command did not finish within ${timeoutSec} s and the host did not stop it: ${what}`));
        }, (timeoutSec + 20) * 1000);
        channel.on("data", (d: Buffer) => {
          out.push(d);
          onStdout?.(Buffer.concat(out).toString("utf8"));
        });
        channel.stderr.on("data", (d: Buffer) => errOut.push(d));
        channel.on("exit", (c: number | null, s?: string) => {
          code = c ?? undefined;
          signal = s ?? undefined;
        });
        channel.on("close", () => {
          clearTimeout(timer);
          if (code === undefined && this.lost) return reject(this.connectionLost(what));
          if (code === TIMED_OUT) return reject(new DeployError(this.target.host, `a command did not finish within ${timeoutSec} s and was stopped on the host: ${what}`));
          if (code === undefined) return reject(new DeployError(this.target.host, `a command ended without an exit status${signal ? ` (signal ${signal})` : ""}: ${what}`));
          resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errOut).toString("utf8") });
        });
        if (stdin !== undefined) {
          const data = typeof stdin === "string" ? Buffer.from(stdin) : stdin;
          this.bytesSent += data.length;
          channel.end(data);
        } else channel.end();
      });
    });
  }

  /** Like exec, but a non-zero exit is a DeployError naming what was being done. */
  async run(what: string, command: string, stdin?: Buffer | string, timeoutSec?: number): Promise<string> {
    let r: ExecResult;
    try {
      r = await this.exec(command, stdin, timeoutSec);
    } catch (err) {
      throw new DeployError(this.target.host, `${what} failed: ${(err as Partial<DeployError>).reason ?? (err as Error).message}`);
    }
    if (r.code !== 0) throw new DeployError(this.target.host, `${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}`);
    return r.stdout;
  }

  /**
   * A command that lives as long as the deployment (the host's deploy lock): resolves once it
   * prints `ready`, with what it printed before that line, then gets a line on stdin every 5 s
   * (the lease); release() ends its stdin. Rejects with its error output and exit status when
   * it exits first. `stdin`, if given, is written first (the command reads exactly that much);
   * `onOutput` sees the output as it comes, until `ready`.
   */
  lease(command: string, ready: string, stdin?: Buffer | string, onOutput?: (soFar: string) => void): Promise<{ release(): void; output: string; errors: string }> {
    this.commands++;
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err) return reject(this.lost ? this.connectionLost(command.split(" ")[1] ?? command) : new DeployError(this.target.host, `cannot run a command: ${err.message}`));
        if (stdin !== undefined) {
          const data = typeof stdin === "string" ? Buffer.from(stdin) : stdin;
          this.bytesSent += data.length;
          channel.write(data);
        }
        let out = "";
        let errOut = "";
        let beat: NodeJS.Timeout | undefined;
        channel.stderr.on("data", (d: Buffer) => (errOut += d.toString("utf8")));
        channel.on("data", (d: Buffer) => {
          out += d.toString("utf8");
          if (!beat) onOutput?.(out);
          const lines = out.split("\n");
          const at = lines.indexOf(ready);
          if (beat || at < 0) return;
          beat = setInterval(() => channel.write("\n"), 5000);
          beat.unref();
          resolve({
            release: () => {
              clearInterval(beat);
              channel.end();
            },
            output: lines.slice(0, at).join("\n"),
            errors: errOut,
          });
        });
        channel.on("exit", (code: number | null) => {
          if (beat) return;
          const error = new DeployError(this.target.host, errOut.trim() || `${command.split(" ").slice(0, 2).join(" ")} exited with ${code ?? "no status"}`);
          if (code !== null) error.exitCode = code;
          reject(error);
        });
        channel.on("close", () => {
          clearInterval(beat);
          if (!beat) reject(this.lost ? this.connectionLost(command) : new DeployError(this.target.host, errOut.trim() || "the lock command ended without taking the lock"));
        });
      });
    });
  }

  private connectionLost(what: string): DeployError {
    return new DeployError(this.target.host, `the connection was lost during ${what} (${this.lost})`);
  }

  close(): void {
    this.client.end();
  }

  /** Drops the connection without a goodbye, as a network cut would (for tests of confirm-or-revert). */
  cut(): void {
    this.client.destroy();
  }
}

/** The refusal of a host key other than the configured or pinned one, with the way out. */
function hostKeyMismatch(target: SshTarget, offered: string): string {
  if (target.hostKey) {
    return `the host key does not match homefleet:hosts.${target.host}.hostKey: config says ${hostKeyFingerprint(target.hostKey)}, the host offers ${hostKeyFingerprint(offered)} ("${offered}"). Nothing was sent to it.`;
  }
  return (
    `the host key changed since homefleet first connected: Pulumi state pins ${hostKeyFingerprint(target.pinnedHostKey ?? "")}, the host now offers ${hostKeyFingerprint(offered)}. ` +
    `Nothing was sent to it. If the host was re-keyed on purpose, set homefleet:hosts.${target.host}.hostKey to "${offered}" and run again; ` +
    `otherwise something else may be answering at this address.`
  );
}

export function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
