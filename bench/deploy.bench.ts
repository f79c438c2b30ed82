/**
 * Deploy benchmark (issue 4): homefleet's deployer (deploy/deployHost.ts) against the practical
 * limit, a plain script opening one SSH session per host (bench/plain-deploy.sh), and against
 * Ansible (bench/ansible/deploy.yml). All three push the same 12 files (6 services, 3 timers,
 * 3 config files, as in shared/DESIGN.md's speed reference) to the same kind of real hosts: four
 * Debian test hosts booted by e2e/testhosts.sh, fresh for each deployer. Writes the "Deploy"
 * section of docs/benchmarks.md.
 *
 * Run: npm run bench:deploy (as root; needs e2e/testhosts.sh's tools and `apt-get install ansible`).
 * `npm run bench` runs it with --if-possible: it then skips, saying why, where it cannot run.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { sha256, type HostManifest } from "../bundle/hostBundle";
import { deployHost, type DeployResult } from "../deploy/deployHost";
import { HostSession, type SshTarget } from "../deploy/ssh";
import { activateScript } from "../render/scripts/activate";
import type { RenderedFile } from "../render/types";
import { writeSection } from "./benchDoc";

const root = join(__dirname, "..", "..");
const CACHE = process.env.HOMEFLEET_E2E_CACHE ?? "/var/cache/homefleet-e2e";
/** Our own state directory: the e2e tests' `down-all` never touches these hosts, nor ours theirs. */
const STATE = join(CACHE, "bench-hosts");
/** python3 and its dependencies as .debs, for Ansible's modules (the test hosts have no Python). */
const DEBS = join(CACHE, "bench-debs");
const ROOTFS = join(CACHE, "rootfs");
const TESTHOSTS_SOURCE = join(root, "e2e", "testhosts.sh");
/**
 * The run uses a copy of e2e/testhosts.sh (with e2e/standin linked next to it): bash reads a
 * script while it runs it, so an edit of the script during the run would break a call.
 */
let TESTHOSTS = TESTHOSTS_SOURCE;
const PLAIN = join(root, "bench", "plain-deploy.sh");
const PLAYBOOK = join(root, "bench", "ansible", "deploy.yml");
const ANSIBLE_CFG = join(root, "bench", "ansible", "ansible.cfg");
const DOC = join(root, "docs", "benchmarks.md");
/** Indexes 41-44 only: the e2e tests use 11-30 and may run at the same time. */
const HOST_SLOTS = [
  { name: "bench1", index: 41 },
  { name: "bench2", index: 42 },
  { name: "bench3", index: 43 },
  { name: "bench4", index: 44 },
] as const;
const RUNS = Math.max(1, Number(process.env.HOMEFLEET_BENCH_RUNS ?? 3));
const HEALTH_TIMEOUT_SEC = 60;

interface Host {
  readonly name: string;
  readonly index: number;
  readonly address: string;
  readonly hostKey: string;
  readonly keyFile: string;
  readonly knownHosts: string;
  /** The machine side of the host's veth pair: its counters are the bytes on the wire. */
  readonly interface: string;
}

interface Proc {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function progress(message: string): void {
  process.stderr.write(`deploy-bench: ${message}\n`);
}

function run(command: string, args: readonly string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutSec?: number } = {}): Promise<Proc> {
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
    child.stdin.end(options.input ?? "");
  });
}

function must(what: string, p: Proc): string {
  if (p.code !== 0) throw new Error(`${what} failed (exit ${p.code}):\n${(p.stderr + p.stdout).trim().split("\n").slice(-30).join("\n")}`);
  return p.stdout;
}

// --- test hosts ------------------------------------------------------------------------------------

const hostEnv = { ...process.env, HOMEFLEET_E2E_STATE: STATE };

function testhosts(...args: string[]): Promise<Proc> {
  return run("bash", [TESTHOSTS, ...args], { env: hostEnv, timeoutSec: 300 });
}

function sshArgs(host: Host): string[] {
  return ["-i", host.keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${host.knownHosts}`, "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", `root@${host.address}`];
}

function onHost(host: Host, command: string, input?: string | Buffer): Promise<Proc> {
  return run("ssh", [...sshArgs(host), command], { input, timeoutSec: 300 });
}

/** apt-get downloads python3 and what it needs beyond the rootfs's packages (once, cached). */
async function ensurePythonDebs(): Promise<void> {
  if (existsSync(DEBS) && readdirSync(DEBS).some((f) => /^python3_.*\.deb$/.test(f))) return;
  progress(`downloading python3 .debs for Ansible into ${DEBS}`);
  mkdirSync(join(DEBS, "partial"), { recursive: true });
  must(
    "apt-get --download-only python3 (against the rootfs's package status)",
    await run("apt-get", ["install", "--download-only", "-y", "-q", "--no-install-recommends", "-o", `Dir::State::status=${ROOTFS}/var/lib/dpkg/status`, "-o", `Dir::Cache::archives=${DEBS}`, "python3"], { timeoutSec: 300 }),
  );
}

/** Waits for the boot to finish, then installs python3 (Ansible needs it; all deployers get the same host). */
async function prepareHost(host: Host): Promise<void> {
  const state = (await onHost(host, "systemctl is-system-running --wait")).stdout.trim();
  if (state !== "running" && state !== "degraded") throw new Error(`${host.name}: system state ${state}`);
  if (existsSync(join(ROOTFS, "usr/bin/python3"))) return;
  const tar = spawnSync("tar", ["-C", DEBS, "-c", "--exclude=lock", "--exclude=partial", "."], { maxBuffer: 256 * 1024 * 1024 });
  if (tar.status !== 0) throw new Error(`tar of ${DEBS} failed: ${tar.stderr}`);
  // dpkg in passes: a package whose pre-dependency is not configured yet goes in the next pass.
  must(
    `${host.name}: installing python3`,
    await onHost(
      host,
      `set -eu; d=$(mktemp -d /root/bench-debs.XXXXXX); tar -x -C "$d"
      for pass in 1 2 3 4; do if dpkg -i --skip-same-version "$d"/*.deb >/dev/null 2>&1; then break; fi; done
      dpkg --configure -a; rm -rf "$d"; python3 -c 'import json'`,
      tar.stdout,
    ),
  );
}

async function bootHost(slot: (typeof HOST_SLOTS)[number]): Promise<Host> {
  await testhosts("down", slot.name);
  const info = Object.fromEntries(
    must(`testhosts.sh up ${slot.name} ${slot.index}`, await testhosts("up", slot.name, String(slot.index)))
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  return { name: slot.name, index: slot.index, address: info.address, hostKey: info.host_key, keyFile: info.ssh_key, knownHosts: info.known_hosts, interface: info.interface };
}

async function bootHosts(slots: readonly (typeof HOST_SLOTS)[number][]): Promise<Host[]> {
  const hosts = await Promise.all(slots.map(bootHost));
  await ensurePythonDebs();
  await Promise.all(hosts.map(prepareHost));
  return hosts;
}

async function downHosts(names: readonly string[]): Promise<void> {
  await Promise.all(names.map(async (n) => must(`testhosts.sh down ${n}`, await testhosts("down", n))));
}

/** Last resort on exit or signal: stop every bench host, synchronously. */
function downAllSync(): void {
  for (const slot of HOST_SLOTS) spawnSync("bash", [TESTHOSTS, "down", slot.name], { env: hostEnv, stdio: "ignore" });
}

// --- the workload -----------------------------------------------------------------------------------

type Variant = "A" | "B";
const CHANGED_CONFIG = "/etc/homefleet-bench/app1.conf";
const CHANGED_UNIT = "bench-app1.service";
const APPS = [1, 2, 3].map((i) => `bench-app${i}.service`);

/**
 * 12 small files: 3 long-running services reading a config file each, 3 oneshot jobs with their
 * 3 timers (6 .service, 3 .timer, 3 config files). Variant A/B differ in one line of app1.conf.
 */
function workload(variant: Variant): RenderedFile[] {
  const files: RenderedFile[] = [];
  for (const i of [1, 2, 3]) {
    files.push({
      path: `/etc/homefleet-bench/app${i}.conf`,
      mode: "0644",
      content: [`# homefleet deploy benchmark: read by bench-app${i}.service`, `BENCH_APP=${i}`, `BENCH_LISTEN=127.0.0.1:${8100 + i}`, `BENCH_LOG_LEVEL=info`, ...(i === 1 ? [`BENCH_VARIANT=${variant}`] : []), ""].join("\n"),
    });
    files.push({
      path: `/etc/systemd/system/bench-app${i}.service`,
      mode: "0644",
      content: [
        "[Unit]",
        `Description=homefleet deploy benchmark: long-running service ${i}`,
        "After=network.target",
        "",
        "[Service]",
        `EnvironmentFile=/etc/homefleet-bench/app${i}.conf`,
        "ExecStart=/bin/sleep infinity",
        "Restart=on-failure",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
      ].join("\n"),
    });
    files.push({
      path: `/etc/systemd/system/bench-job${i}.service`,
      mode: "0644",
      content: ["[Unit]", `Description=homefleet deploy benchmark: job ${i} (started by bench-job${i}.timer)`, "", "[Service]", "Type=oneshot", "ExecStart=/bin/true", ""].join("\n"),
    });
    files.push({
      path: `/etc/systemd/system/bench-job${i}.timer`,
      mode: "0644",
      content: ["[Unit]", `Description=homefleet deploy benchmark: timer of job ${i}`, "", "[Timer]", `OnCalendar=*-*-* 0${i}:00:00`, "RandomizedDelaySec=5min", "", "[Install]", "WantedBy=timers.target", ""].join("\n"),
    });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** The units a change of the file restarts, by homefleet's rule (bundle/activation.ts): a oneshot job without [Install] is not restarted. */
function restartOf(path: string): string[] {
  const own = path.match(/^\/etc\/systemd\/system\/([^/]+)$/)?.[1];
  if (own) return own.startsWith("bench-job") && own.endsWith(".service") ? [] : [own];
  const app = path.match(/^\/etc\/homefleet-bench\/app(\d)\.conf$/)?.[1];
  return app ? [`bench-app${app}.service`] : [];
}

/** A homefleet host manifest for the workload, computed as buildHostBundle does. */
function manifestOf(files: readonly RenderedFile[]): HostManifest {
  const units = files.map((f) => f.path.match(/^\/etc\/systemd\/system\/([^/]+\.(service|timer))$/)?.[1]).filter((u): u is string => !!u).sort();
  const start = files.filter((f) => f.path.startsWith("/etc/systemd/system/") && /^\[Install\]$/m.test(f.content)).map((f) => f.path.slice("/etc/systemd/system/".length)).sort();
  const body = {
    os: "systemd" as const,
    arch: "x86_64" as const,
    files: files.map((f) => {
      const restart = restartOf(f.path);
      return { path: f.path, mode: f.mode, sha256: sha256(f.content), size: Buffer.byteLength(f.content, "utf8"), ...(restart.length ? { restart } : {}) };
    }),
    secretFiles: [],
    units,
    start,
    disabledUnits: [],
    packages: [],
    healthChecks: [],
    interfaces: [],
    images: [],
  };
  return { ...body, sha256: sha256(JSON.stringify(body)) };
}

interface Bundle {
  readonly variant: Variant;
  readonly files: RenderedFile[];
  readonly manifest: HostManifest;
  /** On disk, for the plain script and Ansible (written before any timing). */
  readonly dir: string;
  readonly ansibleVars: string;
}

function writeBundle(work: string, variant: Variant): Bundle {
  const files = workload(variant);
  const manifest = manifestOf(files);
  const dir = join(work, `bundle-${variant}`);
  for (const f of files) {
    mkdirSync(dirname(join(dir, "files", f.path)), { recursive: true });
    writeFileSync(join(dir, "files", f.path), f.content, { mode: parseInt(f.mode, 8) });
  }
  writeFileSync(join(dir, "manifest.tsv"), manifest.files.map((f) => [f.sha256, f.mode, f.path, (f.restart ?? []).join(",")].join("\t") + "\n").join(""));
  writeFileSync(join(dir, "start"), manifest.start.map((u) => `${u}\n`).join(""));
  const ansibleVars = join(work, `ansible-vars-${variant}.json`);
  writeFileSync(ansibleVars, JSON.stringify({ bench_dirs: [...new Set(manifest.files.map((f) => dirname(f.path)))].sort(), bench_files: manifest.files.map((f) => ({ src: join(dir, "files", f.path), dest: f.path, mode: f.mode, restart: f.restart ?? [] })), bench_start: manifest.start }, null, 2));
  return { variant, files, manifest, dir, ansibleVars };
}

// --- what a host runs, before and after each deploy (not timed) ---------------------------------------

interface Snapshot {
  /** sshd's "Accepted ..." lines so far, this snapshot's own connection included. */
  readonly accepted: number;
  readonly pids: Readonly<Record<string, number>>;
  readonly active: Readonly<Record<string, string>>;
  readonly filesOk: boolean;
}

async function snapshot(host: Host, manifest: HostManifest): Promise<Snapshot> {
  const script = [
    `echo "accepted=$(journalctl -u ssh.service -o cat --no-pager 2>/dev/null | grep -c '^Accepted ' || true)"`,
    ...APPS.map((u) => `echo "pid:${u}=$(systemctl show -p MainPID --value ${u} 2>/dev/null || echo 0)"`),
    ...manifest.start.map((u) => `echo "active:${u}=$(systemctl is-active ${u} 2>/dev/null || true)"`),
    `if sha256sum --check --quiet >/dev/null 2>&1 <<'EOF'`,
    ...manifest.files.map((f) => `${f.sha256}  ${f.path}`),
    "EOF",
    "then echo files=ok; else echo files=bad; fi",
  ].join("\n");
  const kv = must(`${host.name}: snapshot`, await onHost(host, script))
    .trim()
    .split("\n")
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const);
  const get = (prefix: string) => Object.fromEntries(kv.filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  return {
    accepted: Number(kv.find(([k]) => k === "accepted")?.[1] ?? NaN),
    pids: Object.fromEntries(Object.entries(get("pid:")).map(([k, v]) => [k, Number(v) || 0])),
    active: get("active:"),
    filesOk: kv.some(([k, v]) => k === "files" && v === "ok"),
  };
}

type Kind = "first" | "noop" | "change";

/** Fails the benchmark when a deployer did not leave the host as the workload says. */
function verify(deployer: string, kind: Kind, host: Host, before: Snapshot, after: Snapshot): void {
  const problems: string[] = [];
  if (!after.filesOk) problems.push("files differ from the manifest");
  for (const [u, s] of Object.entries(after.active)) if (s !== "active") problems.push(`${u} is ${s}`);
  for (const u of APPS) {
    const restarted = after.pids[u] !== before.pids[u];
    if (!after.pids[u]) problems.push(`${u} has no main PID`);
    else if (kind === "noop" && restarted) problems.push(`${u} restarted on a no-op`);
    else if (kind === "change" && u === CHANGED_UNIT && !restarted) problems.push(`${u} not restarted after its config changed`);
    else if (kind === "change" && u !== CHANGED_UNIT && restarted) problems.push(`${u} restarted though none of its files changed`);
  }
  if (problems.length) throw new Error(`${deployer}, ${kind} deploy, host ${host.name}: ${problems.join("; ")}`);
}

function wireBytes(host: Host): { toHost: number; fromHost: number } {
  const stat = (n: string) => Number(readFileSync(`/sys/class/net/${host.interface}/statistics/${n}`, "utf8"));
  // The machine's side of the veth pair: what it transmits reaches the host.
  return { toHost: stat("tx_bytes"), fromHost: stat("rx_bytes") };
}

// --- the three deployers ----------------------------------------------------------------------------

interface DeployerRun {
  readonly homefleet?: readonly DeployResult[];
}

interface Deployer {
  readonly id: "homefleet" | "plain" | "ansible";
  readonly label: string;
  /** Deploys the bundle to all hosts given, in parallel; only this call is timed. */
  deploy(hosts: readonly Host[], bundle: Bundle): Promise<DeployerRun>;
  /** Called before its hosts go down: drop connections kept open to them. */
  hostsGoingDown?(): void;
}

function target(host: Host): SshTarget {
  return { host: host.name, address: host.address, port: 22, user: "root", privateKey: readFileSync(host.keyFile, "utf8"), hostKey: host.hostKey };
}

/** One timed SSH command (or the connection) of a homefleet deploy, for the breakdown. */
interface CommandTime {
  readonly host: string;
  readonly label: string;
  readonly ms: number;
}

/** Where homefleet's commands go while a homefleet deploy is timed; undefined otherwise. */
let commandLog: CommandTime[] | undefined;

/** What a command does, from the host-side steps it names ("status", "arm + switch", ...), in order. */
function labelOf(command: string): string {
  const steps: [number, string][] = [];
  const mark = (re: RegExp, name: string) => {
    const at = command.search(re);
    if (at >= 0) steps.push([at, name]);
  };
  mark(/sha256sum \S*homefleet-activate\b/, "activate-script hash");
  mark(/homefleet-activate\.new/, "install activate script");
  mark(/current\/manifest\.json/, "read manifest");
  for (const m of command.matchAll(/homefleet-activate\s+(prepare|switch|rollback|arm|confirm|status|gc)\b/g)) steps.push([m.index ?? 0, m[1]]);
  mark(/=ok; else/, "health checks");
  mark(/^systemctl is-active /, "unit states");
  mark(/^for f in .*sha256sum/, "secret hashes");
  const names = [...new Set(steps.sort((a, b) => a[0] - b[0]).map(([, n]) => n))];
  return names.length ? names.join(" + ") : command.split(/\s+/).slice(0, 3).join(" ");
}

/**
 * Times each SSH command homefleet runs, by wrapping HostSession's methods in this process (no
 * change to deploy/): the benchmark's own clock around the same calls, nothing else.
 */
function instrumentHomefleet(): void {
  const exec = HostSession.prototype.exec;
  HostSession.prototype.exec = async function (this: HostSession, ...args: Parameters<HostSession["exec"]>) {
    const t0 = performance.now();
    try {
      return await exec.apply(this, args);
    } finally {
      commandLog?.push({ host: this.target.host, label: labelOf(args[0]), ms: performance.now() - t0 });
    }
  };
  const connect = HostSession.connect.bind(HostSession);
  HostSession.connect = async (t: SshTarget) => {
    const t0 = performance.now();
    try {
      return await connect(t);
    } finally {
      commandLog?.push({ host: t.host, label: "SSH connect and authenticate", ms: performance.now() - t0 });
    }
  };
}

const homefleet: Deployer = {
  id: "homefleet",
  label: "homefleet",
  async deploy(hosts, bundle) {
    const results = await Promise.all(hosts.map((h) => deployHost(target(h), bundle.files, bundle.manifest, [], { healthTimeoutSec: HEALTH_TIMEOUT_SEC })));
    for (const r of results) if (r.health.verdict !== "healthy") throw new Error(`homefleet: ${r.host} unhealthy: ${JSON.stringify(r.health.checks)}`);
    return { homefleet: results };
  },
};

function plain(work: string): Deployer {
  return {
    id: "plain",
    label: "plain script",
    async deploy(hosts, bundle) {
      const list = join(work, `plain-hosts-${hosts.length}`);
      writeFileSync(list, hosts.map((h) => `${h.address} ${h.knownHosts}\n`).join(""));
      must("bench/plain-deploy.sh", await run("bash", [PLAIN, "-i", hosts[0].keyFile, bundle.dir, list], { timeoutSec: 300 }));
      return {};
    },
  };
}

function ansible(work: string): Deployer {
  const controlDir = join(work, "ansible-cp");
  mkdirSync(controlDir, { recursive: true });
  const env = { ...process.env, ANSIBLE_CONFIG: ANSIBLE_CFG, ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir, ANSIBLE_LOCAL_TEMP: join(work, "ansible-tmp"), ANSIBLE_NOCOLOR: "1" };
  return {
    id: "ansible",
    label: "Ansible",
    hostsGoingDown: () => closeAnsibleMasters(work),
    async deploy(hosts, bundle) {
      const inventory = join(work, `inventory-${hosts.length}.ini`);
      writeFileSync(
        inventory,
        [
          "[bench]",
          ...hosts.map((h) => `${h.name} ansible_host=${h.address} ansible_ssh_common_args='-o UserKnownHostsFile=${h.knownHosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'`),
          "",
          "[bench:vars]",
          "ansible_user=root",
          `ansible_ssh_private_key_file=${hosts[0].keyFile}`,
          "",
        ].join("\n"),
      );
      const out = must("ansible-playbook", await run("ansible-playbook", ["-i", inventory, PLAYBOOK, "-e", `@${bundle.ansibleVars}`], { env, timeoutSec: 600 }));
      if (!/PLAY RECAP/.test(out) || /(unreachable|failed)=[1-9]/.test(out)) throw new Error(`ansible-playbook reported failures:\n${out.slice(-3000)}`);
      return {};
    },
  };
}

/** Ansible's ControlPersist masters outlive the playbook: end them (they are ours) when its hosts go. */
function closeAnsibleMasters(work: string): void {
  const dir = join(work, "ansible-cp");
  if (!existsSync(dir)) return;
  for (const socket of readdirSync(dir)) spawnSync("ssh", ["-o", `ControlPath=${join(dir, socket)}`, "-O", "exit", "bench-control-master"], { stdio: "ignore" });
}

// --- scenarios ---------------------------------------------------------------------------------------

interface Sample {
  readonly seconds: number;
  /** New SSH connections per host during the deploy, from each host's sshd log. */
  readonly connectionsPerHost: number;
  /** Bytes on the wire per host (veth counters), both directions. */
  readonly wireToHost: number;
  readonly wireFromHost: number;
  readonly homefleet?: readonly DeployResult[];
  readonly commands?: readonly CommandTime[];
  /** 1-minute load average of the machine right before the deploy. */
  readonly load: number;
  /** Test hosts of other runs (the e2e tests) running at the time. */
  readonly others: readonly string[];
}

async function measure(deployer: Deployer, hosts: readonly Host[], bundle: Bundle, kind: Kind): Promise<Sample> {
  const before = await Promise.all(hosts.map((h) => snapshot(h, bundle.manifest)));
  const load = loadavg()[0];
  const others = otherTestHosts();
  const wire0 = hosts.map(wireBytes);
  const log: CommandTime[] = [];
  commandLog = deployer.id === "homefleet" ? log : undefined;
  const t0 = performance.now();
  const r = await deployer.deploy(hosts, bundle).finally(() => (commandLog = undefined));
  const seconds = (performance.now() - t0) / 1000;
  const wire1 = hosts.map(wireBytes);
  const after = await Promise.all(hosts.map((h) => snapshot(h, bundle.manifest)));
  hosts.forEach((h, i) => verify(deployer.label, kind, h, before[i], after[i]));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sample = {
    seconds,
    connectionsPerHost: avg(hosts.map((_, i) => after[i].accepted - before[i].accepted - 1)),
    wireToHost: avg(hosts.map((_, i) => wire1[i].toHost - wire0[i].toHost)),
    wireFromHost: avg(hosts.map((_, i) => wire1[i].fromHost - wire0[i].fromHost)),
    homefleet: r.homefleet,
    commands: r.homefleet ? log : undefined,
    load,
    others,
  };
  progress(`${deployer.label}: ${kind} to ${hosts.length} host(s), variant ${bundle.variant}: ${seconds.toFixed(3)} s, ${sample.connectionsPerHost} ssh connection(s)/host`);
  return sample;
}

const SCENARIOS = ["first1", "first4", "noop4", "change4"] as const;
type ScenarioId = (typeof SCENARIOS)[number];
const SCENARIO_LABEL: Record<ScenarioId, string> = {
  first1: "first push, 1 host",
  first4: "first push, 4 hosts in parallel",
  noop4: "no-op re-deploy, 4 hosts",
  change4: "one-file change (a config file), 4 hosts",
};

type Results = Record<ScenarioId, Sample[]>;

async function benchDeployer(deployer: Deployer, bundles: Record<Variant, Bundle>): Promise<Results> {
  progress(`${deployer.label}: booting 4 fresh hosts`);
  let hosts = await bootHosts(HOST_SLOTS);
  const results: Results = { first1: [], first4: [], noop4: [], change4: [] };
  results.first1.push(await measure(deployer, [hosts[0]], bundles.A, "first"));
  // Scenario 2 needs all four hosts fresh: bench1 boots again (from the volatile overlay: a new host).
  deployer.hostsGoingDown?.();
  await downHosts([hosts[0].name]);
  hosts = [(await bootHosts([HOST_SLOTS[0]]))[0], ...hosts.slice(1)];
  results.first4.push(await measure(deployer, hosts, bundles.A, "first"));
  for (let i = 0; i < RUNS; i++) results.noop4.push(await measure(deployer, hosts, bundles.A, "noop"));
  // One config file changes, A → B → A → ...: each run is a one-file change from the run before.
  let current: Variant = "A";
  for (let i = 0; i < RUNS; i++) {
    current = current === "A" ? "B" : "A";
    results.change4.push(await measure(deployer, hosts, bundles[current], "change"));
  }
  return results;
}

// --- the report --------------------------------------------------------------------------------------

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const secs = (s: number) => (s < 10 ? s.toFixed(2) : s.toFixed(1)) + " s";
const ratio = (r: number) => r.toFixed(2) + "×";
const kib = (b: number) => (b / 1024).toFixed(1) + " KiB";

function cpuModel(): string {
  return readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
}

function memTotal(): string {
  const kb = Number(readFileSync("/proc/meminfo", "utf8").match(/^MemTotal:\s*(\d+)/m)?.[1] ?? 0);
  return `${(kb / 1024 / 1024).toFixed(1)} GiB`;
}

function versionOf(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  return ((r.stdout || "") + (r.stderr || "")).trim().split("\n")[0] ?? "unknown";
}

/** The homefleet code measured: the commit, and any uncommitted change to the deployer's code. */
function homefleetVersion(): string {
  const git = (...args: string[]) => spawnSync("git", ["-C", root, ...args], { encoding: "utf8" }).stdout ?? "";
  const head = git("rev-parse", "--short", "HEAD").trim();
  // Porcelain lines are "XY PATH"; X may be a space, so no trimming before the slice.
  const dirty = git("status", "--porcelain", "--", "deploy", "render", "bundle", "model").split("\n").filter(Boolean).map((l) => l.slice(3));
  return head ? `commit ${head}` + (dirty.length ? ` plus uncommitted changes to ${dirty.join(", ")}` : "") : "not a git checkout";
}

/** Test hosts of other runs (the e2e tests) on this machine: their veth interfaces. */
function otherTestHosts(): string[] {
  return readdirSync("/sys/class/net").filter((n) => n.startsWith("ve-") && !HOST_SLOTS.some((s) => n === `ve-${s.name}`));
}

interface Context {
  readonly started: Date;
  readonly version: string;
  readonly loadStart: number[];
  readonly loadEnd: number[];
  readonly othersStart: string[];
  readonly othersEnd: string[];
  readonly elapsedSec: number;
}

function report(all: Record<Deployer["id"], Results>, ctx: Context): string {
  const med = (d: Deployer["id"], s: ScenarioId) => median(all[d][s].map((x) => x.seconds));
  const rows = SCENARIOS.map((s) => {
    const hf = med("homefleet", s);
    const pl = med("plain", s);
    const an = med("ansible", s);
    return { s, hf, pl, an, hfPlain: hf / pl, anHf: an / hf };
  });
  const pass = (ok: boolean) => (ok ? "pass" : "**FAIL**");
  const hfRuns = all.homefleet;
  const fullPush = hfRuns.first4[0].homefleet!;
  const change = hfRuns.change4.flatMap((x) => x.homefleet!);
  const noop = hfRuns.noop4.flatMap((x) => x.homefleet!);
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const activateBytes = Buffer.byteLength(activateScript.text);
  const within = rows.filter((r) => r.hfPlain <= 1.5).length;
  const faster = rows.filter((r) => r.anHf >= 10).length;
  const connections = (d: Deployer["id"], s: ScenarioId) => {
    const v = all[d][s].map((x) => x.connectionsPerHost);
    return Math.min(...v) === Math.max(...v) ? String(v[0]) : `${Math.min(...v)}–${Math.max(...v)}`;
  };
  const wire = (d: Deployer["id"], s: ScenarioId) => kib(median(all[d][s].map((x) => x.wireToHost + x.wireFromHost)));
  const runsOf = (d: Deployer["id"], s: ScenarioId) => all[d][s].map((x) => x.seconds.toFixed(3)).join(", ");
  const ids: Deployer["id"][] = ["homefleet", "plain", "ansible"];
  const names: Record<Deployer["id"], string> = { homefleet: "homefleet", plain: "plain script", ansible: "Ansible" };
  const samples = ids.flatMap((d) => SCENARIOS.flatMap((sc) => all[d][sc]));
  const maxLoad = Math.max(...samples.map((x) => x.load));
  const others = [...new Set([...ctx.othersStart, ...ctx.othersEnd, ...samples.flatMap((x) => x.others)])];
  // Busy: load before the run started, other test hosts, or a load well above what the benchmark's own hosts make.
  const loaded = ctx.loadStart[0] > 1 || others.length > 0 || maxLoad > 2 * cpus().length;

  // Where homefleet's time goes: per command kind, ms per host per deploy (mean over hosts and runs).
  const breakdownOf = (s: ScenarioId) => {
    const samples = hfRuns[s];
    const deploys = samples.reduce((n, x) => n + x.homefleet!.length, 0);
    const sums = new Map<string, number>();
    for (const c of samples.flatMap((x) => x.commands ?? [])) sums.set(c.label, (sums.get(c.label) ?? 0) + c.ms);
    return { deploys, perDeploy: new Map([...sums].map(([k, v]) => [k, v / deploys])) };
  };
  const breakdownScenarios: ScenarioId[] = ["first4", "noop4", "change4"];
  const breakdowns = breakdownScenarios.map(breakdownOf);
  const labels = [...new Set(breakdownScenarios.flatMap((s) => hfRuns[s].flatMap((x) => (x.commands ?? []).map((c) => c.label))))];
  const ms = (v: number | undefined) => (v === undefined ? "–" : v.toFixed(0));
  const loadLine = (d: Deployer["id"]) => {
    const loads = SCENARIOS.flatMap((s) => all[d][s].map((x) => x.load));
    const others = new Set(SCENARIOS.flatMap((s) => all[d][s].flatMap((x) => x.others)));
    return `${names[d]}: load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}, ${others.size ? `other test hosts up: ${[...others].join(", ")}` : "no other test hosts"}`;
  };

  return [
    "## Deploy (homefleet vs a plain one-session script vs Ansible)",
    "",
    "Command: `npm run bench:deploy` (compiles, then `node dist/bench/deploy.bench.js`; as root, with the",
    "test-host tools of `e2e/testhosts.sh` and `apt-get install ansible`). `npm run bench` runs it after the",
    "render benchmark when it can, and says why when it cannot.",
    "",
    `Machine: ${cpus().length} CPUs (nproc), ${cpuModel()}, ${memTotal()} RAM, Linux ${release()}, Node ${process.version},`,
    `ansible-core ${versionOf("ansible-playbook", ["--version"]).match(/core ([\d.]+)/)?.[1] ?? "unknown"}, ${versionOf("ssh", ["-V"]).split(",")[0]}.`,
    `homefleet measured: ${ctx.version}.`,
    `Measured: ${ctx.started.toISOString().replace(/\.\d+Z$/, "Z")}; the whole run took ${(ctx.elapsedSec / 60).toFixed(1)} min.`,
    loaded
      ? `**The machine was busy with other work** (${others.length ? `other test hosts up at times: ${others.join(", ")}` : "no other test hosts, but other processes"}): 1-minute load average ${ctx.loadStart[0].toFixed(2)} before the run, up to ${maxLoad.toFixed(1)} during it, ${ctx.loadEnd[0].toFixed(2)} at the end. All absolute times are inflated by that, and not evenly: the deployers ran one after the other and met different loads (below). Compare with shared/DESIGN.md's reference figures with that in mind.`
      : `The machine was otherwise idle: 1-minute load average ${ctx.loadStart[0].toFixed(2)} before the run, at most ${maxLoad.toFixed(1)} during it (the benchmark's own hosts), no other test hosts.`,
    `1-minute load average right before each timed deploy (the machine has ${cpus().length} CPUs; the bench hosts' own boot adds to it): ${ids.map(loadLine).join("; ")}.`,
    "",
    "Hosts: four Debian bookworm test hosts from `e2e/testhosts.sh` (systemd-nspawn, systemd as PID 1, sshd, one",
    "network namespace each, reached over a veth pair), booted fresh for each deployer (`down` + `up`: the root",
    "is a volatile overlay). python3 is installed on them before anything is timed, for Ansible's modules: its",
    `.debs are fetched once with \`apt-get --download-only\` (against the rootfs's package list) into \`${DEBS}\`.`,
    "",
    "Workload, the same for all three: 12 small files: 3 long-running services (`/bin/sleep infinity`,",
    "`WantedBy=multi-user.target`) reading one config file each under `/etc/homefleet-bench/`, and 3 oneshot",
    "jobs with their 3 timers (6 `.service`, 3 `.timer`, 3 config files, as in shared/DESIGN.md's speed",
    "reference). Every deployer installs the changed files, reloads systemd, restarts the units that read",
    "a changed file (not the oneshot jobs, as homefleet does) and enables and starts the services and timers.",
    "After every deploy, untimed, the benchmark checks each host: all 12 hashes right, services and timers",
    "active, the changed service restarted and no other (compared by main PID). A deployer that gets it wrong",
    "fails the run.",
    "",
    "- **homefleet**: `deployHost()` (deploy/deployHost.ts) per host, `Promise.all` over the hosts, in this",
    `  process; its full cycle: generation upload, switch under confirm-or-revert, health gate (${HEALTH_TIMEOUT_SEC} s budget), confirm, gc.`,
    "- **plain script**: `bench/plain-deploy.sh`: per host in parallel one `ssh` session; a tar of all files",
    "  plus their sha256s in; on the host one `sha256sum --check`, install what differs, `daemon-reload` (or",
    "  `enable` of new units, which reloads), restart the changed units. A no-op is the hash comparison only.",
    "- **Ansible**: `bench/ansible/deploy.yml` with `ansible.cfg` next to it: `copy` + `systemd` modules,",
    "  handlers for `daemon-reload` and the restarts, pipelining on, 5 forks, no fact gathering; Ansible's",
    "  default SSH multiplexing (ControlPersist 60 s) on, so runs after the first reuse its connections.",
    "",
    `Times are wall-clock, from the start of the deploy to its end (for the script and Ansible: the process,`,
    `startup included). First pushes run once per deployer (fresh hosts each); no-op and one-file change run`,
    `${RUNS} times each (the change alternates one line of \`${CHANGED_CONFIG}\` between two values); the table`,
    "shows the median.",
    "",
    "| scenario | homefleet | plain script | Ansible | homefleet / plain | Ansible / homefleet | homefleet within 1.5× of plain | homefleet ≥ 10× faster than Ansible |",
    "|---|---:|---:|---:|---:|---:|:---:|:---:|",
    ...rows.map((r) => `| ${SCENARIO_LABEL[r.s]} | ${secs(r.hf)} | ${secs(r.pl)} | ${secs(r.an)} | ${ratio(r.hfPlain)} | ${ratio(r.anHf)} | ${pass(r.hfPlain <= 1.5)} | ${pass(r.anHf >= 10)} |`),
    "",
    `Targets (issue 4): within 1.5× of the plain script in ${within} of ${rows.length} scenarios` +
      (within < rows.length ? ` (not: ${rows.filter((r) => r.hfPlain > 1.5).map((r) => SCENARIO_LABEL[r.s]).join("; ")})` : "") +
      `; at least 10× faster than Ansible in ${faster} of ${rows.length}` +
      (faster < rows.length ? ` (not: ${rows.filter((r) => r.anHf < 10).map((r) => SCENARIO_LABEL[r.s]).join("; ")})` : "") +
      ".",
    "For reference, shared/DESIGN.md's figures for 4 hosts on this kind of machine: Ansible 16.7 s first push, 9.7 s",
    "no-op, 11.4 s one-file change; the one-session script 0.81 s, 0.34 s, 0.67 s.",
    "",
    "All runs, seconds:",
    "",
    "| scenario | homefleet | plain script | Ansible |",
    "|---|---|---|---|",
    ...SCENARIOS.map((s) => `| ${SCENARIO_LABEL[s]} | ${ids.map((d) => runsOf(d, s)).join(" | ")} |`),
    "",
    "SSH connections per host per deploy (new connections in each host's sshd log; the median bytes per host on",
    "the wire, both directions, from the veth counters, SSH and TCP overhead included):",
    "",
    "| scenario | homefleet | plain script | Ansible |",
    "|---|---|---|---|",
    ...SCENARIOS.map((s) => `| ${SCENARIO_LABEL[s]} | ${ids.map((d) => `${connections(d, s)} conn., ${wire(d, s)}`).join(" | ")} |`),
    "",
    "homefleet's own accounting (`DeployResult`, per host):",
    "",
    `- bytes sent (stdin of its commands): full push ${kib(avg(fullPush.map((r) => r.bytesSent)))} (of which ${kib(activateBytes)} is the`,
    `  \`homefleet-activate\` script, installed once per host), one-file change ${kib(avg(change.map((r) => r.bytesSent)))}` +
      ` (${(avg(change.map((r) => r.bytesSent)) / avg(fullPush.map((r) => r.bytesSent)) * 100).toFixed(1)}% of the full push), no-op ${kib(avg(noop.map((r) => r.bytesSent)))};`,
    `- files uploaded: ${fullPush[0].uploadedFiles.length} on the full push, ${change[0].uploadedFiles.length} on a one-file change (${change[0].uploadedFiles.join(", ")}), ${noop[0].uploadedFiles.length} on a no-op;`,
    `- restarted on a one-file change: ${[...new Set(change.flatMap((r) => r.restarted))].join(", ") || "nothing"}; on a no-op: ${[...new Set(noop.flatMap((r) => r.restarted))].join(", ") || "nothing"};`,
    `- SSH connections it reports: ${[...new Set([...fullPush, ...change, ...noop].map((r) => r.sshConnections))].join(", ")}; commands (SSH channels) per deploy: full push ${fullPush[0].commands}, one-file change ${change[0].commands}, no-op ${noop[0].commands}.`,
    "",
    "Where homefleet's time goes: each SSH command it runs (named by the host-side steps it contains), timed by the",
    "benchmark around `HostSession`'s methods, in ms per host per deploy (mean over the hosts and runs; the four",
    "hosts run in parallel, so these add up per host, not across hosts):",
    "",
    `| command | ${breakdownScenarios.map((s) => SCENARIO_LABEL[s]).join(" | ")} |`,
    `|---|${breakdownScenarios.map(() => "---:").join("|")}|`,
    ...labels.map((l) => `| ${l} | ${breakdowns.map((b) => ms(b.perDeploy.get(l))).join(" | ")} |`),
    `| **sum** | ${breakdowns.map((b) => ms([...b.perDeploy.values()].reduce((a, v) => a + v, 0))).join(" | ")} |`,
    `| wall clock of the deploy (median) | ${breakdownScenarios.map((s) => ms(med("homefleet", s) * 1000)).join(" | ")} |`,
    "",
  ].join("\n");
}

// --- main --------------------------------------------------------------------------------------------

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("must run as root (test hosts are systemd-nspawn containers)");
  const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
  for (const cmd of ["systemd-nspawn", "nsenter", "ip", "ssh", "ssh-keygen", "tar"]) if (!has(cmd)) missing.push(`missing ${cmd} (apt-get install -y systemd-container iproute2 openssh-client util-linux)`);
  if (!has("ansible-playbook")) missing.push("missing ansible-playbook (apt-get install -y ansible)");
  if (!existsSync(join(ROOTFS, "etc/homefleet-e2e/complete")) && !has("debootstrap")) missing.push(`no test-host rootfs in ${ROOTFS} and no debootstrap to build it (apt-get install -y debootstrap)`);
  if (!existsSync(TESTHOSTS_SOURCE)) missing.push(`missing ${TESTHOSTS_SOURCE}`);
  return missing;
}

async function main(): Promise<void> {
  const ifPossible = process.argv.includes("--if-possible");
  const missing = missingPrerequisites();
  if (missing.length) {
    const why = `deploy benchmark ${ifPossible ? "skipped" : "cannot run"}:\n  ${missing.join("\n  ")}\n`;
    process.stderr.write(why);
    process.exit(ifPossible ? 0 : 1);
  }
  const started = new Date();
  const version = homefleetVersion();
  const t0 = performance.now();
  const loadStart = loadavg();
  const othersStart = otherTestHosts();
  const work = mkdtempSync(join(tmpdir(), "homefleet-deploy-bench-"));
  mkdirSync(join(work, "e2e"));
  copyFileSync(TESTHOSTS_SOURCE, join(work, "e2e", "testhosts.sh"));
  symlinkSync(join(root, "e2e", "standin"), join(work, "e2e", "standin"));
  TESTHOSTS = join(work, "e2e", "testhosts.sh");
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the bench hosts`);
    closeAnsibleMasters(work);
    downAllSync();
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    instrumentHomefleet();
    const bundles = { A: writeBundle(work, "A"), B: writeBundle(work, "B") };
    const all = {} as Record<Deployer["id"], Results>;
    for (const deployer of [homefleet, plain(work), ansible(work)]) {
      all[deployer.id] = await benchDeployer(deployer, bundles);
      deployer.hostsGoingDown?.();
      progress(`${deployer.label}: stopping its hosts`);
      await downHosts(HOST_SLOTS.map((s) => s.name));
    }
    const body = report(all, { started, version, loadStart, loadEnd: loadavg(), othersStart, othersEnd: otherTestHosts(), elapsedSec: (performance.now() - t0) / 1000 });
    writeSection(DOC, "deploy", body);
    process.stdout.write(body);
    progress(`wrote ${DOC} (${statSync(DOC).size} bytes) after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    closeAnsibleMasters(work);
    downAllSync();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`deploy benchmark failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
