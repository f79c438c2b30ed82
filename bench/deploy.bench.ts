/**
 * Deploy benchmark (issue 4): homefleet's deployer (deploy/deployHost.ts, run as a process by
 * bench/homefleet-deploy.ts) against a plain script opening one SSH session per host
 * (bench/plain-deploy.sh), against Ansible (bench/ansible/deploy.yml), and against a floor that
 * does only the necessary work (bench/minimal-deploy.sh). All four push the same 12 files to the
 * same kind of real hosts (Debian test hosts booted by e2e/testhosts.sh), each on its own hosts,
 * round by round and taking turns, so that they meet the same load. Writes the "Deploy" section
 * of docs/benchmarks.md (bench/deployReport.ts).
 *
 * Run: npm run bench:deploy (as root; needs e2e/testhosts.sh's tools and `apt-get install ansible`).
 * `npm run bench` runs it with --if-possible: it then skips, saying why, where it cannot run.
 * Environment: HOMEFLEET_BENCH_RUNS (rounds, default 3), HOMEFLEET_BENCH_HOSTS (host indexes,
 * default 61-80), HOMEFLEET_E2E_STATE and HOMEFLEET_E2E_CACHE (as for e2e/testhosts.sh).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { DeployResult } from "../deploy/deployHost";
import { writeSection } from "./benchDoc";
import { ROOTFS, TestHosts, bootHosts, ensurePythonDebs, hostIndexes, inotifyShortfall, must, prepareHost, progress, run, snapshot, wireBytes, type Host, type Proc, type Snapshot } from "./deployHosts";
import { report, type Results, type Sample, type DeployerId, SCENARIOS, type ScenarioId, SCENARIO_LABEL } from "./deployReport";
import { APPS, CHANGED_UNIT, writeBundle, type Bundle } from "./deployWorkload";
import type { BenchHostTarget, TimedCommand } from "./homefleet-deploy";

const root = join(__dirname, "..", "..");
const TESTHOSTS_SOURCE = join(root, "e2e", "testhosts.sh");
const HOMEFLEET_ENTRY = join(root, "dist", "bench", "homefleet-deploy.js");
const PLAIN = join(root, "bench", "plain-deploy.sh");
const MINIMAL = join(root, "bench", "minimal-deploy.sh");
const PLAYBOOK = join(root, "bench", "ansible", "deploy.yml");
const ANSIBLE_CFG = join(root, "bench", "ansible", "ansible.cfg");
const DOC = join(root, "docs", "benchmarks.md");
const RUNS = Math.max(1, Number(process.env.HOMEFLEET_BENCH_RUNS ?? 3));

type Kind = "first" | "noop" | "change";
const KIND: Record<ScenarioId, Kind> = { first1: "first", first4: "first", noop4: "noop", change4: "change" };

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

// --- the four deployers: each a process, timed from spawn to exit ----------------------------------

interface Invocation {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

interface Deployer {
  readonly id: DeployerId;
  readonly label: string;
  /** Untimed: writes the process's inputs. `previous` is what this deployer pushed to these hosts last. */
  prepare(hosts: readonly Host[], bundle: Bundle, previous: Bundle | undefined): Invocation;
  /** Untimed, after the process: fails on a wrong result; homefleet's own report. */
  check(p: Proc): { homefleet?: readonly DeployResult[]; commands?: readonly TimedCommand[]; startMs?: number };
  /** Called before its hosts go down: drop connections kept open to them. */
  hostsGoingDown?(): void;
}

function homefleet(work: string): Deployer {
  // What Pulumi's state would record per host: the generation the last deployment confirmed.
  const generationOf = new Map<string, number>();
  return {
    id: "homefleet",
    label: "homefleet",
    prepare(hosts, bundle, previous) {
      const list = join(work, `homefleet-hosts-${hosts[0].name}-${hosts.length}.json`);
      writeFileSync(list, JSON.stringify(hosts.map((h): BenchHostTarget => ({ name: h.name, address: h.address, hostKey: h.hostKey, keyFile: h.keyFile, ...(previous && generationOf.has(h.name) ? { generation: generationOf.get(h.name) } : {}) }))));
      // As the provider knows from Pulumi's state: a create (nothing pushed before) or an update of what it pushed last.
      return { command: process.execPath, args: [HOMEFLEET_ENTRY, bundle.dir, list, ...(previous ? ["update", previous.dir] : ["create"])], env: { ...process.env, HOMEFLEET_BENCH_TIMINGS: "1" } };
    },
    check(p) {
      const out = JSON.parse(must("bench/homefleet-deploy.ts", p)) as { startMs: number; results: DeployResult[]; commands: TimedCommand[] };
      for (const r of out.results) generationOf.set(r.host, r.generation);
      return { homefleet: out.results, commands: out.commands, startMs: out.startMs };
    },
    hostsGoingDown: () => generationOf.clear(),
  };
}

function hostsFile(work: string, prefix: string, hosts: readonly Host[]): string {
  const list = join(work, `${prefix}-hosts-${hosts[0].name}-${hosts.length}`);
  writeFileSync(list, hosts.map((h) => `${h.address} ${h.knownHosts}\n`).join(""));
  return list;
}

function plain(work: string): Deployer {
  return {
    id: "plain",
    label: "plain script",
    prepare: (hosts, bundle) => ({ command: "bash", args: [PLAIN, "-i", hosts[0].keyFile, bundle.dir, hostsFile(work, "plain", hosts)] }),
    check: (p) => (must("bench/plain-deploy.sh", p), {}),
  };
}

function minimal(work: string): Deployer {
  return {
    id: "minimal",
    label: "minimal (floor)",
    prepare: (hosts, bundle, previous) => ({ command: "bash", args: [MINIMAL, "-i", hosts[0].keyFile, bundle.dir, previous ? join(previous.dir, "manifest.tsv") : "-", hostsFile(work, "minimal", hosts)] }),
    check: (p) => (must("bench/minimal-deploy.sh", p), {}),
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
    prepare(hosts, bundle) {
      const inventory = join(work, `inventory-${hosts[0].name}-${hosts.length}.ini`);
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
      return { command: "ansible-playbook", args: ["-i", inventory, PLAYBOOK, "-e", `@${bundle.ansibleVars}`], env };
    },
    check(p) {
      const out = must("ansible-playbook", p);
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

// --- one timed deploy ------------------------------------------------------------------------------

/** Test hosts of other runs (the e2e tests) on this machine: their veth interfaces. */
function otherTestHosts(ours: ReadonlySet<string>): string[] {
  return readdirSync("/sys/class/net").filter((n) => n.startsWith("ve-") && !ours.has(n));
}

async function measure(deployer: Deployer, hosts: readonly Host[], bundle: Bundle, previous: Bundle | undefined, scenario: ScenarioId, round: number, position: number, ours: ReadonlySet<string>): Promise<Sample> {
  const kind = KIND[scenario];
  const invocation = deployer.prepare(hosts, bundle, previous);
  const before = await Promise.all(hosts.map((h) => snapshot(h, bundle.manifest)));
  const load = loadavg()[0];
  const others = otherTestHosts(ours);
  const wire0 = hosts.map(wireBytes);
  const t0 = performance.now();
  const p = await run(invocation.command, invocation.args, { env: invocation.env, timeoutSec: 600 });
  const seconds = (performance.now() - t0) / 1000;
  const wire1 = hosts.map(wireBytes);
  const r = deployer.check(p);
  const after = await Promise.all(hosts.map((h, i) => snapshot(h, bundle.manifest, before[i])));
  hosts.forEach((h, i) => verify(deployer.label, kind, h, before[i], after[i]));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sample: Sample = {
    round,
    position,
    seconds,
    connectionsPerHost: avg(after.map((a) => a.accepted)),
    sessionsPerHost: avg(after.map((a) => a.sessions)),
    tasksPerHost: avg(hosts.map((h, i) => after[i].pidFirst - before[i].pidLast - h.snapshotTasks)),
    wireToHost: avg(hosts.map((_, i) => wire1[i].toHost - wire0[i].toHost)),
    wireFromHost: avg(hosts.map((_, i) => wire1[i].fromHost - wire0[i].fromHost)),
    homefleet: r.homefleet,
    commands: r.commands,
    startMs: r.startMs,
    load,
    others,
  };
  progress(
    `round ${round}, ${deployer.label}: ${SCENARIO_LABEL[scenario]} (content ${bundle.change}): ${seconds.toFixed(3)} s; per host ${sample.connectionsPerHost} conn., ${sample.sessionsPerHost} sessions, ${sample.tasksPerHost} tasks; load ${load.toFixed(2)}`,
  );
  return sample;
}

// --- rounds ------------------------------------------------------------------------------------------

/** Each deployer's hosts: one for the 1-host first push, four for the rest. */
interface Fleet {
  readonly solo: { name: string; index: number };
  readonly four: readonly { name: string; index: number }[];
}

const PREFIX: Record<DeployerId, string> = { homefleet: "hf", plain: "pl", ansible: "an", minimal: "mn" };

function fleets(ids: readonly DeployerId[]): Record<DeployerId, Fleet> {
  const indexes = hostIndexes(ids.length * 5);
  const out = {} as Record<DeployerId, Fleet>;
  ids.forEach((id, d) => {
    const slots = indexes.slice(d * 5, d * 5 + 5).map((index) => ({ name: `${PREFIX[id]}-${index}`, index }));
    out[id] = { solo: slots[0], four: slots.slice(1) };
  });
  return out;
}

async function main(): Promise<void> {
  const ifPossible = process.argv.includes("--if-possible");
  const missing = missingPrerequisites();
  if (missing.length) {
    process.stderr.write(`deploy benchmark ${ifPossible ? "skipped" : "cannot run"}:\n  ${missing.join("\n  ")}\n`);
    process.exit(ifPossible ? 0 : 1);
  }
  const started = new Date();
  const t0 = performance.now();
  const loadStart = loadavg();
  const work = mkdtempSync(join(tmpdir(), "homefleet-deploy-bench-"));
  mkdirSync(join(work, "e2e"));
  // bash reads a script while it runs it: a copy, so that an edit during the run breaks nothing.
  copyFileSync(TESTHOSTS_SOURCE, join(work, "e2e", "testhosts.sh"));
  symlinkSync(join(root, "e2e", "standin"), join(work, "e2e", "standin"));
  const testhosts = new TestHosts(join(work, "e2e", "testhosts.sh"));
  const deployers = [homefleet(work), plain(work), ansible(work), minimal(work)];
  const ids = deployers.map((d) => d.id);
  const fleetOf = fleets(ids);
  const slots = ids.flatMap((id) => [fleetOf[id].solo, ...fleetOf[id].four]);
  const ours = new Set(slots.map((s) => `ve-${s.name}`));
  const othersStart = otherTestHosts(ours);
  const stopAll = () => {
    closeAnsibleMasters(work);
    testhosts.downSync(slots.map((s) => s.name));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the bench hosts`);
    stopAll();
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await ensurePythonDebs();
    const first = writeBundle(work, 0);
    const all = {} as Record<DeployerId, Results>;
    for (const id of ids) all[id] = { first1: [], first4: [], noop4: [], change4: [] };
    const snapshotTasks: number[] = [];
    for (let round = 1; round <= RUNS; round++) {
      // Each change is content no host has seen: the round's number.
      const change = writeBundle(work, round);
      const order = ids.map((_, i) => deployers[(i + round - 1) % deployers.length]);
      progress(`round ${round} of ${RUNS}: booting ${slots.length} fresh hosts; order ${order.map((d) => d.label).join(", ")}`);
      const hosts = await bootHosts(testhosts, slots, 5, (host) => prepareHost(host, first.manifest));
      snapshotTasks.push(...[...hosts.values()].map((h) => h.snapshotTasks));
      const last = new Map<string, Bundle>();
      for (const scenario of SCENARIOS) {
        const bundle = scenario === "change4" ? change : first;
        for (const [position, d] of order.entries()) {
          const group = scenario === "first1" ? [fleetOf[d.id].solo] : fleetOf[d.id].four;
          const key = group.map((s) => s.name).join(",");
          all[d.id][scenario].push(await measure(d, group.map((s) => hosts.get(s.name)!), bundle, last.get(key), scenario, round, position + 1, ours));
          last.set(key, bundle);
        }
      }
      for (const d of deployers) d.hostsGoingDown?.();
      await Promise.all(slots.map((s) => testhosts.down(s.name)));
    }
    const body = report(all, {
      started,
      loadStart,
      loadEnd: loadavg(),
      othersStart,
      othersEnd: otherTestHosts(ours),
      elapsedSec: (performance.now() - t0) / 1000,
      runs: RUNS,
      hostIndexes: slots.map((s) => s.index),
      hostNames: { homefleet: [], plain: [], ansible: [], minimal: [], ...Object.fromEntries(ids.map((id) => [id, [fleetOf[id].solo, ...fleetOf[id].four].map((s) => s.name)])) },
      snapshotTasks,
    });
    writeSection(DOC, "deploy", body);
    process.stdout.write(body);
    progress(`wrote ${DOC} (${statSync(DOC).size} bytes) after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("must run as root (test hosts are systemd-nspawn containers)");
  const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
  for (const cmd of ["systemd-nspawn", "nsenter", "ip", "ssh", "ssh-keygen", "tar"]) if (!has(cmd)) missing.push(`missing ${cmd} (apt-get install -y systemd-container iproute2 openssh-client util-linux)`);
  if (!has("ansible-playbook")) missing.push("missing ansible-playbook (apt-get install -y ansible)");
  if (!existsSync(join(ROOTFS, "etc/homefleet-e2e/complete")) && !has("debootstrap")) missing.push(`no test-host rootfs in ${ROOTFS} and no debootstrap to build it (apt-get install -y debootstrap)`);
  if (!existsSync(TESTHOSTS_SOURCE)) missing.push(`missing ${TESTHOSTS_SOURCE}`);
  const inotify = inotifyShortfall(20);
  if (inotify) missing.push(inotify);
  if (!existsSync(HOMEFLEET_ENTRY)) missing.push(`missing ${HOMEFLEET_ENTRY} (npm run build)`);
  return missing;
}

main().catch((err: unknown) => {
  process.stderr.write(`deploy benchmark failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
