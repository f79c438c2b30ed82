/**
 * The deploy benchmark's test hosts (e2e/testhosts.sh) and what it reads on them before and after
 * each deploy, untimed: files, units, main PIDs, the SSH connections and sessions sshd logged and
 * the tasks the host's PID namespace handed out.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { HostManifest } from "../bundle/hostBundle";
import { APPS } from "./deployWorkload";

export const CACHE = process.env.HOMEFLEET_E2E_CACHE ?? "/var/cache/homefleet-e2e";
/** Per-host state of e2e/testhosts.sh: HOMEFLEET_E2E_STATE when given, else the benchmark's own. */
export const STATE = process.env.HOMEFLEET_E2E_STATE || join(CACHE, "bench-hosts");
/** python3 and its dependencies as .debs, for Ansible's modules (the test hosts have no Python). */
export const DEBS = join(CACHE, "bench-debs");
export const ROOTFS = join(CACHE, "rootfs");

export interface Host {
  readonly name: string;
  readonly index: number;
  readonly address: string;
  readonly hostKey: string;
  readonly keyFile: string;
  readonly knownHosts: string;
  /** The machine side of the host's veth pair: its counters are the bytes on the wire. */
  readonly interface: string;
  /** Tasks a snapshot's own SSH connection makes before its first command (subtracted). */
  snapshotTasks: number;
}

export interface Proc {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function progress(message: string): void {
  process.stderr.write(`deploy-bench: ${message}\n`);
}

export function run(command: string, args: readonly string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutSec?: number } = {}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`${command} ${args.join(" ").slice(0, 200)}: no exit after ${options.timeoutSec ?? 600} s`));
    }, (options.timeoutSec ?? 600) * 1000);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    // A child that exits without reading all its stdin (ssh whose connection failed) says so in
    // its exit status; the write error must not end the benchmark without its clean-up.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

export function must(what: string, p: Proc): string {
  if (p.code !== 0) throw new Error(`${what} failed (exit ${p.code}):\n${(p.stderr + p.stdout).trim().split("\n").slice(-30).join("\n")}`);
  return p.stdout;
}

/**
 * Where the benchmark's hosts go: HOMEFLEET_BENCH_HOSTS, a list of indexes ("61-80" or
 * "61,62,70-87"), one per host; the e2e tests use other indexes and may run at the same time.
 */
export function hostIndexes(count: number): number[] {
  const spec = process.env.HOMEFLEET_BENCH_HOSTS || "61-80";
  const indexes = spec.split(",").flatMap((part) => {
    const m = part.trim().match(/^(\d+)(?:-(\d+))?$/);
    if (!m) throw new Error(`HOMEFLEET_BENCH_HOSTS: "${part}" is neither an index nor a range (as in 61-80)`);
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    return Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);
  });
  if (new Set(indexes).size !== indexes.length || indexes.some((i) => i < 1 || i > 254)) throw new Error(`HOMEFLEET_BENCH_HOSTS="${spec}": indexes must be distinct, 1-254`);
  if (indexes.length < count) throw new Error(`HOMEFLEET_BENCH_HOSTS="${spec}" gives ${indexes.length} host indexes; the benchmark needs ${count}`);
  return indexes.slice(0, count);
}

/** e2e/testhosts.sh, copied by the benchmark: bash reads a script while it runs it. */
export class TestHosts {
  private readonly env = { ...process.env, HOMEFLEET_E2E_STATE: STATE };
  constructor(private readonly script: string) {}

  private call(...args: string[]): Promise<Proc> {
    return run("bash", [this.script, ...args], { env: this.env, timeoutSec: 300 });
  }

  async boot(name: string, index: number): Promise<Host> {
    await this.call("down", name);
    const info = Object.fromEntries(
      must(`testhosts.sh up ${name} ${index}`, await this.call("up", name, String(index)))
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    return { name, index, address: info.address, hostKey: info.host_key, keyFile: info.ssh_key, knownHosts: info.known_hosts, interface: info.interface, snapshotTasks: 0 };
  }

  async down(name: string): Promise<void> {
    must(`testhosts.sh down ${name}`, await this.call("down", name));
  }

  /** Last resort on exit or signal: stop the given hosts (never down-all), synchronously. */
  downSync(names: readonly string[]): void {
    for (const n of names) spawnSync("bash", [this.script, "down", n], { env: this.env, stdio: "ignore" });
  }
}

/**
 * Boots every slot's host afresh (its root is a volatile overlay), `parallel` at a time, each
 * handed to `prepare` once it is up; the hosts by name.
 */
export async function bootHosts(testhosts: TestHosts, slots: readonly { name: string; index: number }[], parallel: number, prepare: (host: Host) => Promise<void> = async () => undefined): Promise<Map<string, Host>> {
  const hosts = new Map<string, Host>();
  const queue = [...slots];
  const worker = async () => {
    for (let slot = queue.shift(); slot; slot = queue.shift()) {
      const host = await testhosts.boot(slot.name, slot.index);
      await prepare(host);
      hosts.set(slot.name, host);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return hosts;
}

/**
 * Why `count` more test hosts would not boot, if they would not: each holds about 8 inotify
 * instances (systemd 5, logind, dbus, getty), counted against root's
 * fs.inotify.max_user_instances (128 by default), and past it a host's systemd dies at boot.
 */
export function inotifyShortfall(count: number): string | undefined {
  const inUse = Number(spawnSync("sh", ["-c", "find /proc/[0-9]*/fd -lname anon_inode:inotify 2>/dev/null | wc -l"], { encoding: "utf8" }).stdout.trim());
  const limit = Number(readFileSync("/proc/sys/fs/inotify/max_user_instances", "utf8"));
  if (limit - inUse >= count * 10) return undefined;
  return `fs.inotify.max_user_instances is ${limit}, ${inUse} in use: the ${count} bench hosts need about ${count * 10} more (sysctl -w fs.inotify.max_user_instances=${Math.max(512, inUse + count * 10 + 56)})`;
}

export function sshArgs(host: Host): string[] {
  return ["-i", host.keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${host.knownHosts}`, "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", `root@${host.address}`];
}

export function onHost(host: Host, command: string, input?: string | Buffer): Promise<Proc> {
  return run("ssh", [...sshArgs(host), command], { input, timeoutSec: 300 });
}

/** apt-get downloads python3 and what it needs beyond the rootfs's packages (once, cached). */
export async function ensurePythonDebs(): Promise<void> {
  if (existsSync(DEBS) && readdirSync(DEBS).some((f) => /^python3_.*\.deb$/.test(f))) return;
  progress(`downloading python3 .debs for Ansible into ${DEBS}`);
  mkdirSync(join(DEBS, "partial"), { recursive: true });
  must(
    "apt-get --download-only python3 (against the rootfs's package status)",
    await run("apt-get", ["install", "--download-only", "-y", "-q", "--no-install-recommends", "-o", `Dir::State::status=${ROOTFS}/var/lib/dpkg/status`, "-o", `Dir::Cache::archives=${DEBS}`, "python3"], { timeoutSec: 300 }),
  );
}

/**
 * Before anything is timed, the same for every deployer's hosts: waits for the boot to finish,
 * installs python3 (Ansible needs it), has sshd log each session (LogLevel VERBOSE: "Starting
 * session: ..."), and measures what a snapshot's own connection costs in tasks.
 */
export async function prepareHost(host: Host, manifest: HostManifest): Promise<void> {
  const state = (await onHost(host, "systemctl is-system-running --wait")).stdout.trim();
  if (state !== "running" && state !== "degraded") throw new Error(`${host.name}: system state ${state}`);
  const python = existsSync(join(ROOTFS, "usr/bin/python3"));
  const tar = python ? undefined : spawnSync("tar", ["-C", DEBS, "-c", "--exclude=lock", "--exclude=partial", "."], { maxBuffer: 256 * 1024 * 1024 });
  if (tar && tar.status !== 0) throw new Error(`tar of ${DEBS} failed: ${tar.stderr}`);
  // dpkg in passes: a package whose pre-dependency is not configured yet goes in the next pass.
  const installPython = python
    ? ""
    : `d=$(mktemp -d /root/bench-debs.XXXXXX); tar -x -C "$d"
      for pass in 1 2 3 4; do if dpkg -i --skip-same-version "$d"/*.deb >/dev/null 2>&1; then break; fi; done
      dpkg --configure -a; rm -rf "$d"; python3 -c 'import json'`;
  const prepare = `set -eu; ${installPython}
      echo 'LogLevel VERBOSE' >/etc/ssh/sshd_config.d/00-homefleet-bench.conf; systemctl reload ssh.service`;
  // ssh exits 255 when the connection itself failed (seen once on a freshly booted host): again.
  let prepared = await onHost(host, prepare, tar?.stdout);
  for (let i = 0; prepared.code === 255 && i < 3; i++) {
    progress(`${host.name}: ssh failed (${prepared.stderr.trim().split("\n").pop()}), preparing again`);
    await new Promise((r) => setTimeout(r, 1000));
    prepared = await onHost(host, prepare, tar?.stdout);
  }
  must(`${host.name}: preparing the host`, prepared);
  // sshd re-executes itself on reload: wait until it accepts connections again.
  for (let i = 0; (await onHost(host, "true")).code !== 0; i++) {
    if (i >= 50) throw new Error(`${host.name}: sshd does not answer after its reload`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Two snapshots back to back: what the second one's connection makes before its first command.
  const costs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const before = await snapshot(host, manifest);
    const after = await snapshot(host, manifest, before);
    costs.push(after.pidFirst - before.pidLast);
    if (after.accepted !== 0 || after.sessions !== 0) throw new Error(`${host.name}: sshd logged a connection between two snapshots (accepted ${after.accepted}, sessions ${after.sessions}): another client?`);
  }
  host.snapshotTasks = Math.min(...costs);
}

export interface Snapshot {
  /** Lines of sshd's journal so far, and the snapshot's own client port (for the next snapshot). */
  readonly sshdLines: number;
  readonly port: string;
  /** Since the `since` snapshot: connections ("Accepted ...") and sessions ("Starting session: ..."), the two snapshots' own left out. */
  readonly accepted: number;
  readonly sessions: number;
  /** The PID namespace's last PID handed out: as the snapshot's first command runs, and as its last does. */
  readonly pidFirst: number;
  readonly pidLast: number;
  readonly pids: Readonly<Record<string, number>>;
  readonly active: Readonly<Record<string, string>>;
  readonly filesOk: boolean;
}

/**
 * What the host runs. `read ... </proc/sys/kernel/ns_last_pid` is a shell builtin: the first
 * and last reads bracket the snapshot's own processes. With `since`, counts what sshd logged
 * after that snapshot's journal position, that snapshot's and this one's own lines left out.
 */
export async function snapshot(host: Host, manifest: HostManifest, since?: Snapshot): Promise<Snapshot> {
  const journal = "journalctl SYSLOG_IDENTIFIER=sshd -o cat --no-pager 2>/dev/null";
  const script = [
    "read -r pid </proc/sys/kernel/ns_last_pid; echo \"pidFirst=$pid\"",
    'own=${SSH_CLIENT#* }; own=${own%% *}; echo "port=$own"',
    `log=$(${journal})`,
    'echo "sshdLines=$(printf "%s\\n" "$log" | wc -l)"',
    since
      ? `printf '%s\\n' "$log" | tail -n +${since.sshdLines + 1} | grep -Ev " port (${since.port}|$own)[ :]" | awk '/^Accepted [a-z-]+ for /{a++} /^Starting session: /{s++} END{print "accepted=" a+0; print "sessions=" s+0}'`
      : "echo accepted=0; echo sessions=0",
    ...APPS.map((u) => `echo "pid:${u}=$(systemctl show -p MainPID --value ${u} 2>/dev/null || echo 0)"`),
    ...manifest.start.map((u) => `echo "active:${u}=$(systemctl is-active ${u} 2>/dev/null || true)"`),
    `if sha256sum --check --quiet >/dev/null 2>&1 <<'EOF'`,
    ...manifest.files.map((f) => `${f.sha256}  ${f.path}`),
    "EOF",
    "then echo files=ok; else echo files=bad; fi",
    "read -r pid </proc/sys/kernel/ns_last_pid; echo \"pidLast=$pid\"",
  ].join("\n");
  const kv = must(`${host.name}: snapshot`, await onHost(host, script))
    .trim()
    .split("\n")
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const);
  const get = (prefix: string) => Object.fromEntries(kv.filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const num = (k: string) => {
    const v = Number(kv.find(([key]) => key === k)?.[1]);
    if (!Number.isFinite(v)) throw new Error(`${host.name}: snapshot without ${k}`);
    return v;
  };
  return {
    sshdLines: num("sshdLines"),
    port: kv.find(([k]) => k === "port")?.[1] ?? "",
    accepted: num("accepted"),
    sessions: num("sessions"),
    pidFirst: num("pidFirst"),
    pidLast: num("pidLast"),
    pids: Object.fromEntries(Object.entries(get("pid:")).map(([k, v]) => [k, Number(v) || 0])),
    active: get("active:"),
    filesOk: kv.some(([k, v]) => k === "files" && v === "ok"),
  };
}

export function wireBytes(host: Host): { toHost: number; fromHost: number } {
  const stat = (n: string) => Number(readFileSync(`/sys/class/net/${host.interface}/statistics/${n}`, "utf8"));
  // The machine's side of the veth pair: what it transmits reaches the host.
  return { toHost: stat("tx_bytes"), fromHost: stat("rx_bytes") };
}
