/**
 * One SSH connection to a host (ssh2), with commands run as channels on it. Secrets travel on
 * a command's stdin, never in its command line or environment. The host key is checked when the
 * config gives one.
 */
import { createHash } from "node:crypto";
import { Client, type ConnectConfig } from "ssh2";

export interface SshTarget {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA...`; when set, any other host key is refused. */
  readonly hostKey?: string;
  readonly connectTimeoutSec?: number;
}

/** How a dynamic resource names its host: the connection settings from config, the key as a Pulumi secret. */
export interface HostConnectionInputs {
  readonly host: string;
  readonly connection: { readonly address: string; readonly port: number; readonly user: string; readonly hostKey?: string };
  /** A Pulumi secret. */
  readonly privateKey: string;
}

export function sshTargetOf(inputs: HostConnectionInputs): SshTarget {
  const { host, connection, privateKey } = inputs;
  return { host, address: connection.address, port: connection.port, user: connection.user, hostKey: connection.hostKey, privateKey };
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class DeployError extends Error {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(`host ${host}: ${message}`);
    // Set again by hand: in the provider as Pulumi serializes it, the class becomes a function
    // whose super call does not set the message, and the engine would show an empty error.
    this.message = `host ${host}: ${message}`;
    this.name = "DeployError";
  }
}

export class HostSession {
  /** Bytes written to command stdin over this connection (the upload cost of a deployment). */
  bytesSent: number;
  commands: number;

  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
  ) {
    // Set here, not as field initializers: Pulumi serializes this class into the dynamic
    // provider from its constructor and methods, and initializers would be lost (bytesSent was
    // NaN under the real engine, and an output the engine cannot encode failed the update).
    this.bytesSent = 0;
    this.commands = 0;
  }

  static connect(target: SshTarget): Promise<HostSession> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      const expected = target.hostKey?.split(" ")[1];
      const config: ConnectConfig = {
        host: target.address,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        readyTimeout: (target.connectTimeoutSec ?? 20) * 1000,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        hostVerifier: expected ? (key: Buffer) => key.toString("base64") === expected : undefined,
      };
      client
        .once("ready", () => {
          // Later errors (a reset connection) fail the command in flight through its channel;
          // without a listener they would crash the process.
          client.on("error", () => undefined);
          resolve(new HostSession(client, target));
        })
        .once("error", (err) => {
          const why = /hostVerifier|Host denied/i.test(err.message) ? `host key does not match the configured hostKey (${target.hostKey?.slice(0, 30)}...)` : err.message;
          reject(new DeployError(target.host, `cannot connect to ${target.user}@${target.address}:${target.port}: ${why}`));
        })
        .connect(config);
    });
  }

  /**
   * Runs a command; `stdin` (if given) is written and closed. Never throws on a non-zero exit,
   * but does when the command outlives `timeoutSec` (a hung host must not hang the deployment).
   */
  exec(command: string, stdin?: Buffer | string, timeoutSec = 600): Promise<ExecResult> {
    this.commands++;
    if (process.env.HOMEFLEET_DEBUG_SSH) process.stderr.write(`[${this.target.host}] $ ${command.slice(0, 120)}\n`);
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err) return reject(new DeployError(this.target.host, `cannot run a command: ${err.message}`));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code = -1;
        const timer = setTimeout(() => {
          channel.close();
          reject(new DeployError(this.target.host, `a command did not finish within ${timeoutSec} s: ${command.split(" ").slice(0, 3).join(" ")}`));
        }, timeoutSec * 1000);
        channel.on("data", (d: Buffer) => out.push(d));
        channel.stderr.on("data", (d: Buffer) => errOut.push(d));
        channel.on("exit", (c: number | null) => (code = c ?? -1));
        channel.on("close", () => {
          clearTimeout(timer);
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
  async run(what: string, command: string, stdin?: Buffer | string): Promise<string> {
    const r = await this.exec(command, stdin);
    if (r.code !== 0) throw new DeployError(this.target.host, `${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}`);
    return r.stdout;
  }

  close(): void {
    this.client.end();
  }

  /** Drops the connection without a goodbye, as a network cut would (for tests of confirm-or-revert). */
  cut(): void {
    this.client.destroy();
  }
}

export function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
