/** The deploy benchmark's section of docs/benchmarks.md, from its samples (bench/deploy.bench.ts). */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import type { DeployResult } from "../deploy/deployHost";
import { activateScript } from "../render/scripts/activate";
import { DEBS, STATE } from "./deployHosts";
import { CHANGED_CONFIG } from "./deployWorkload";
import { HEALTH_SOAK_SEC, HEALTH_TIMEOUT_SEC, type TimedCommand } from "./homefleet-deploy";
import { median } from "./median";

export type DeployerId = "homefleet" | "plain" | "ansible" | "minimal";
const IDS: readonly DeployerId[] = ["homefleet", "plain", "ansible", "minimal"];
const NAMES: Record<DeployerId, string> = { homefleet: "homefleet", plain: "plain script", ansible: "Ansible", minimal: "minimal (floor)" };

export const SCENARIOS = ["first1", "first4", "noop4", "change4"] as const;
export type ScenarioId = (typeof SCENARIOS)[number];
export const SCENARIO_LABEL: Record<ScenarioId, string> = {
  first1: "first push, 1 host",
  first4: "first push, 4 hosts in parallel",
  noop4: "no-op re-deploy, 4 hosts",
  change4: "one-file change (a config file), 4 hosts",
};

export interface Sample {
  readonly round: number;
  /** 1 when this deployer went first in its round's scenario, 4 when last. */
  readonly position: number;
  readonly seconds: number;
  /** Per host: new SSH connections and sessions (channels running a command, shell or subsystem) sshd logged. */
  readonly connectionsPerHost: number;
  readonly sessionsPerHost: number;
  /** Per host: tasks (processes and threads) the host's PID namespace handed out during the deploy. */
  readonly tasksPerHost: number;
  /** Bytes on the wire per host (veth counters), both directions. */
  readonly wireToHost: number;
  readonly wireFromHost: number;
  readonly homefleet?: readonly DeployResult[];
  readonly commands?: readonly TimedCommand[];
  /** homefleet: ms from its process's start to its first line of main (node start, loading the deployer). */
  readonly startMs?: number;
  /** 1-minute load average of the machine right before the deploy. */
  readonly load: number;
  /** Test hosts of other runs (the e2e tests) running at the time. */
  readonly others: readonly string[];
}

export type Results = Record<ScenarioId, Sample[]>;

export interface Context {
  readonly started: Date;
  readonly loadStart: number[];
  readonly loadEnd: number[];
  readonly othersStart: string[];
  readonly othersEnd: string[];
  readonly elapsedSec: number;
  readonly runs: number;
  readonly hostIndexes: readonly number[];
  readonly hostNames: Record<DeployerId, string[]>;
  /** What each snapshot's own connection made in tasks, per host and round (subtracted from the counts). */
  readonly snapshotTasks: readonly number[];
}

const secs = (s: number) => (s < 10 ? s.toFixed(2) : s.toFixed(1)) + " s";
const ratio = (r: number) => r.toFixed(2) + "×";
const kib = (b: number) => (b / 1024).toFixed(1) + " KiB";
const count = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
const range = (xs: readonly number[]) => (Math.min(...xs) === Math.max(...xs) ? count(xs[0]) : `${count(Math.min(...xs))}–${count(Math.max(...xs))}`);

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
  const root = join(__dirname, "..", "..");
  const git = (...args: string[]) => spawnSync("git", ["-C", root, ...args], { encoding: "utf8" }).stdout ?? "";
  const head = git("rev-parse", "--short", "HEAD").trim();
  // Porcelain lines are "XY PATH"; X may be a space, so no trimming before the slice.
  const dirty = git("status", "--porcelain", "--", "deploy", "render", "bundle", "model").split("\n").filter(Boolean).map((l) => l.slice(3));
  return head ? `commit ${head}` + (dirty.length ? ` plus uncommitted changes to ${dirty.join(", ")}` : "") : "not a git checkout";
}

/** What a homefleet command does, from the host-side steps it names ("status", "switch", ...), in order. */
function labelOf(command: string): string {
  if (command === "(connect)") return "SSH connect and authenticate";
  // The deploy lock's command, timed until it holds the lock: it also recovers and reads the state.
  // With an upload and the work to run on it (DeployOptions.expected), it holds the whole deployment when the host was as expected.
  if (command.startsWith("(lock) ")) {
    const install = /head -c \d+ > \S*homefleet-activate\.new/.test(command) ? "install activate script + " : "";
    if (/ status (-|\d+) (-|[0-9a-f]{64}) \d+ \d+ /.test(command)) return `${install}lock + recover + status + (if as expected) ${labelOf(command.slice(command.search(/ status (-|\d+) /)))}`;
    // With an expectation and no upload (the same manifest again), the host reports from what it saved.
    if (/ status \d+ [0-9a-f]{64}$/.test(command)) return `${install}lock + recover + status (if as expected: from what prepare saved)`;
    return install + (/\bhold\b.*\bstatus$/.test(command) ? "lock + recover + status" : "lock");
  }
  const steps: [number, string][] = [];
  const mark = (re: RegExp, name: string) => {
    const at = command.search(re);
    if (at >= 0) steps.push([at, name]);
  };
  mark(/sha256sum \S*homefleet-activate\b/, "activate-script hash");
  mark(/homefleet-activate\.new/, "install activate script");
  mark(/current\/manifest\.json/, "read manifest");
  for (const m of command.matchAll(/homefleet-activate\s+(prepare|switch|rollback|arm|confirm|status|gc|recover)\b/g)) steps.push([m.index ?? 0, m[1]]);
  mark(/=ok; else|states-end/, "health checks");
  if (!/states-end/.test(command)) mark(/^systemctl is-active |echo units:; systemctl is-active /, "unit states");
  mark(/^for f in .*sha256sum/, "secret hashes");
  const names = [...new Set(steps.sort((a, b) => a[0] - b[0]).map(([, n]) => n))];
  return names.length ? names.join(" + ") : command.split(/\s+/).slice(0, 3).join(" ");
}

/** Issue 14's goals: within 1.3× of the plain script everywhere, within 2× of the floor for a no-op and a one-file change. */
function goals14(rows: readonly { s: ScenarioId; hf: number; pl: number; mn: number }[]): string {
  const list = (xs: readonly { s: ScenarioId; r: number }[]) => xs.map((x) => `${SCENARIO_LABEL[x.s]} ${x.r.toFixed(2)}×`).join("; ");
  const plain = rows.map((r) => ({ s: r.s, r: r.hf / r.pl }));
  const floor = rows.filter((r) => r.s === "noop4" || r.s === "change4").map((r) => ({ s: r.s, r: r.hf / r.mn }));
  const [plainMissed, floorMissed] = [plain.filter((x) => x.r > 1.3), floor.filter((x) => x.r > 2)];
  return (
    `Goals (issue 14): within 1.3× of the plain script in every scenario: ${plainMissed.length ? `**not met** in ${plainMissed.length} of ${plain.length} (${list(plainMissed)})` : "met"}; ` +
    `within 2× of the floor for the no-op and the one-file change: ${floorMissed.length ? `**not met** (${list(floorMissed)})` : `met (${list(floor)})`}.`
  );
}

export function report(all: Record<DeployerId, Results>, ctx: Context): string {
  const med = (d: DeployerId, s: ScenarioId) => median(all[d][s].map((x) => x.seconds));
  const rows = SCENARIOS.map((s) => {
    const [hf, pl, an, mn] = IDS.map((d) => med(d, s));
    return { s, hf, pl, an, mn, hfPlain: hf / pl, anHf: an / hf };
  });
  const pass = (ok: boolean) => (ok ? "pass" : "**FAIL**");
  const within = rows.filter((r) => r.hfPlain <= 1.5).length;
  const faster = rows.filter((r) => r.anHf >= 10).length;
  const samples = IDS.flatMap((d) => SCENARIOS.flatMap((sc) => all[d][sc]));
  const maxLoad = Math.max(...samples.map((x) => x.load));
  const others = [...new Set([...ctx.othersStart, ...ctx.othersEnd, ...samples.flatMap((x) => x.others)])];
  const loaded = ctx.loadStart[0] > 1 || others.length > 0 || maxLoad > 2 * cpus().length;
  const loadLine = (d: DeployerId) => {
    const loads = SCENARIOS.flatMap((s) => all[d][s].map((x) => x.load));
    return `${NAMES[d]} ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)})`;
  };
  const runsOf = (d: DeployerId, s: ScenarioId) => all[d][s].map((x) => `${x.seconds.toFixed(3)} (${x.position})`).join(", ");
  const perHost = (d: DeployerId, s: ScenarioId, f: (x: Sample) => number) => range(all[d][s].map(f));
  const wire = (d: DeployerId, s: ScenarioId) => kib(median(all[d][s].map((x) => x.wireToHost + x.wireFromHost)));

  // homefleet's own accounting and where its time goes (per host, per deploy).
  const hf = all.homefleet;
  const results = (s: ScenarioId) => hf[s].flatMap((x) => x.homefleet ?? []);
  const [fullPush, noop, change] = [results("first4"), results("noop4"), results("change4")];
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const breakdownScenarios: ScenarioId[] = ["first1", "first4", "noop4", "change4"];
  const breakdowns = breakdownScenarios.map((s) => {
    const deploys = hf[s].reduce((n, x) => n + (x.homefleet?.length ?? 0), 0);
    const sums = new Map<string, number>();
    for (const c of hf[s].flatMap((x) => x.commands ?? [])) sums.set(labelOf(c.command), (sums.get(labelOf(c.command)) ?? 0) + c.ms);
    return { perDeploy: new Map([...sums].map(([k, v]) => [k, v / deploys])), startMs: median(hf[s].map((x) => x.startMs ?? NaN)) };
  });
  const labels = [...new Set(breakdownScenarios.flatMap((s) => hf[s].flatMap((x) => (x.commands ?? []).map((c) => labelOf(c.command)))))];
  const ms = (v: number | undefined) => (v === undefined ? "–" : v.toFixed(0));
  const [activateBytes] = [Buffer.byteLength(activateScript.text)];

  return [
    "## Deploy (homefleet vs a plain one-session script vs Ansible vs a minimal floor)",
    "",
    "Command: `npm run bench:deploy` (compiles, then `node dist/bench/deploy.bench.js`; as root, with the",
    "test-host tools of `e2e/testhosts.sh` and `apt-get install ansible`). `npm run bench` runs it after the",
    "render benchmark when it can, and says why when it cannot. Its 20 hosts hold about 8 inotify instances each, more",
    "than Linux's default `fs.inotify.max_user_instances` (128, for root and every container together) leaves: it refuses",
    "to start with fewer than 200 free (this run: `sysctl -w fs.inotify.max_user_instances=512`). Environment variables:",
    "",
    "| variable | default | meaning |",
    "|---|---|---|",
    "| `HOMEFLEET_BENCH_RUNS` | `3` | rounds (below); each round boots every bench host fresh |",
    "| `HOMEFLEET_BENCH_HOSTS` | `61-80` | test-host indexes (`10.231.INDEX.2`), as a list or ranges (`61-70,90-99`); 20 are used. The e2e tests use other indexes. |",
    "| `HOMEFLEET_E2E_STATE` | `$HOMEFLEET_E2E_CACHE/bench-hosts` | `e2e/testhosts.sh`'s per-host state; the benchmark stops only its own hosts, by name (never `down-all`) |",
    "| `HOMEFLEET_E2E_CACHE` | `/var/cache/homefleet-e2e` | rootfs and SSH key of the test hosts |",
    "",
    `Machine: ${cpus().length} CPUs (nproc), ${cpuModel()}, ${memTotal()} RAM, Linux ${release()}, Node ${process.version},`,
    `ansible-core ${versionOf("ansible-playbook", ["--version"]).match(/core ([\d.]+)/)?.[1] ?? "unknown"}, ${versionOf("ssh", ["-V"]).split(",")[0]}.`,
    `homefleet measured: ${homefleetVersion()}.`,
    `Measured: ${ctx.started.toISOString().replace(/\.\d+Z$/, "Z")}; the whole run took ${(ctx.elapsedSec / 60).toFixed(1)} min; rounds: ${ctx.runs}; hosts ${ctx.hostIndexes[0]}–${ctx.hostIndexes[ctx.hostIndexes.length - 1]} (${IDS.map((d) => `${NAMES[d]}: ${ctx.hostNames[d].join(", ")}`).join("; ")}), state in \`${STATE}\`.`,
    (loaded ? "**The machine was busy**" : "The machine was otherwise idle") +
      ` (${others.length ? `other test hosts up at times: ${others.join(", ")}` : "no other test hosts"}): 1-minute load average ${ctx.loadStart[0].toFixed(2)} before the run, up to ${maxLoad.toFixed(1)} right before a timed deploy, ${ctx.loadEnd[0].toFixed(2)} at the end (${cpus().length} CPUs; booting the 20 bench hosts each round adds to it).` +
      ` Right before each deployer's deploys: ${IDS.map(loadLine).join("; ")}. Absolute times are inflated by load; the deployers take turns, so they meet the same load.`,
    "",
    "Hosts: Debian bookworm test hosts from `e2e/testhosts.sh` (systemd-nspawn, systemd as PID 1, sshd, one",
    "network namespace each, reached over a veth pair), 5 per deployer (one for the 1-host first push, four",
    "for the rest), so that each deployer works on its own hosts. Every round boots all of them fresh (`down` + `up`:",
    "the root is a volatile overlay), then, before anything is timed, installs python3 on each (for Ansible's modules; its",
    `.debs are fetched once with \`apt-get --download-only\` into \`${DEBS}\`) and sets sshd's \`LogLevel VERBOSE\``,
    "(it then logs every session), the same on every host.",
    "",
    "Rounds: each round runs the four scenarios in turn, and in each scenario every deployer once, one after the",
    "other, each on its own hosts: homefleet, plain script, Ansible, minimal in round 1; the first of them goes last in",
    "the next round (round 2 starts with the plain script, and so on). The first pushes go to the fresh hosts; the no-op",
    "re-deploys the first push's content; the change then changes one line of",
    `\`${CHANGED_CONFIG}\` to a value no host has had (the round's number), so no deployer switches back to content`,
    "it has seen. The table shows each deployer's median over the rounds; ratios are of those medians, all from this run.",
    "",
    "Workload, the same for all four: 12 small files: 3 long-running services (`/bin/sleep infinity`,",
    "`WantedBy=multi-user.target`) reading one config file each under `/etc/homefleet-bench/`, and 3 oneshot",
    "jobs with their 3 timers (6 `.service`, 3 `.timer`, 3 config files, as in shared/DESIGN.md's speed",
    "reference). Every deployer installs the changed files, reloads systemd when it must, restarts the units",
    "that read a changed file (not the oneshot jobs, as homefleet does) and enables and starts the services and timers.",
    "After every deploy, untimed, the benchmark checks each host: all 12 hashes right, services and timers",
    "active, the changed service restarted and no other (compared by main PID). A deployer that gets it wrong",
    "fails the run; the floor is checked the same way.",
    "",
    "Each deployer is a process, timed from spawn to exit (node's start and module loading included for homefleet):",
    "",
    "- **homefleet**: `node dist/bench/homefleet-deploy.js` (bench/homefleet-deploy.ts): loads the deployer and runs",
    "  `deployHost()` (deploy/deployHost.ts) for each host in parallel, then exits; its full cycle: deploy lock, state,",
    `  generation upload, switch under confirm-or-revert, health gate (${HEALTH_TIMEOUT_SEC} s budget; soak ${HEALTH_SOAK_SEC} s: a stack's \`deploy.healthSoakSec\`,`,
    "  30 s by default, is a wait on purpose that a real deploy adds on top), confirm, gc. No Pulumi engine.",
    "- **plain script**: `bench/plain-deploy.sh`: per host in parallel one `ssh` session; a tar of all files",
    "  plus their sha256s in; on the host one `sha256sum --check`, install what differs, `daemon-reload` (or",
    "  `enable` of new units, which reloads), restart the changed units, start all. A no-op is the hash comparison only.",
    "- **Ansible**: `bench/ansible/deploy.yml` with `ansible.cfg` next to it: `copy` + `systemd` modules,",
    "  handlers for `daemon-reload` and the restarts, pipelining on, 5 forks, no fact gathering; Ansible's",
    "  default SSH multiplexing (ControlPersist 60 s) on, so its runs after the first in a round reuse its connections.",
    "- **minimal (floor)**: `bench/minimal-deploy.sh`: given the manifest it pushed last (as a deployer with state",
    "  would be), works out locally what changed and opens one `ssh` per host in parallel that does only that. First",
    "  push: one tar of all files, `systemctl enable --now` of the units to start (enable's own reload is the only",
    "  `daemon-reload`). Change: one tar of the changed file, `daemon-reload` only if a unit file changed (not here),",
    "  `systemctl restart` of the unit that reads it. No-op: one `sha256sum --check` of all files. No lock, no rollback, no",
    "  health gate, no record on the host.",
    "",
    "| scenario | homefleet | plain script | Ansible | minimal (floor) | homefleet / plain | homefleet / floor | plain / floor | Ansible / homefleet | homefleet within 1.5× of plain | homefleet ≥ 10× faster than Ansible |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|",
    ...rows.map((r) => `| ${SCENARIO_LABEL[r.s]} | ${secs(r.hf)} | ${secs(r.pl)} | ${secs(r.an)} | ${secs(r.mn)} | ${ratio(r.hfPlain)} | ${ratio(r.hf / r.mn)} | ${ratio(r.pl / r.mn)} | ${ratio(r.anHf)} | ${pass(r.hfPlain <= 1.5)} | ${pass(r.anHf >= 10)} |`),
    "",
    `Targets (issue 4): within 1.5× of the plain script in ${within} of ${rows.length} scenarios` +
      (within < rows.length ? ` (not: ${rows.filter((r) => r.hfPlain > 1.5).map((r) => SCENARIO_LABEL[r.s]).join("; ")})` : "") +
      `; at least 10× faster than Ansible in ${faster} of ${rows.length}` +
      (faster < rows.length ? ` (not: ${rows.filter((r) => r.anHf < 10).map((r) => SCENARIO_LABEL[r.s]).join("; ")})` : "") +
      ".",
    goals14(rows),
    "For reference, floors measured earlier by hand on this kind of machine: first push 0.72 s for one host, no-op 0.54 s and",
    "a real change 0.67 s for four hosts; shared/DESIGN.md's figures for 4 hosts: Ansible 16.7 s first push, 9.7 s no-op,",
    "11.4 s one-file change; the one-session script 0.81 s, 0.34 s, 0.67 s.",
    "",
    "All runs, seconds, in round order (in brackets: the deployer's turn in that scenario of that round, 1 = first):",
    "",
    `| scenario | ${IDS.map((d) => NAMES[d]).join(" | ")} |`,
    `|---|${IDS.map(() => "---").join("|")}|`,
    ...SCENARIOS.map((s) => `| ${SCENARIO_LABEL[s]} | ${IDS.map((d) => runsOf(d, s)).join(" | ")} |`),
    "",
    "What each deployer runs on a host, per host per deploy (range over the rounds):",
    "",
    "- **conn.**: new SSH connections, the `Accepted publickey for ...` lines of the host's sshd log;",
    "- **sess.**: SSH sessions, the `Starting session: ...` lines (one per channel that runs a command, a shell or a",
    "  subsystem such as sftp, on a new or a reused connection): the commands the deployer sends;",
    "- **tasks**: processes and threads the host started, from the host's PID namespace (`/proc/sys/kernel/ns_last_pid`,",
    "  read with a shell builtin at the end of the snapshot before the deploy and at the start of the one after): all",
    "  of them, sshd's own, the deployer's commands and their children, and what systemd starts for it (generators on",
    `  a reload, restarted services). What a snapshot's own connection makes before its first command was measured on each`,
    `  host before the round (${range(ctx.snapshotTasks)} tasks) and is subtracted. An idle host starts nothing on its own here.`,
    "- **wire**: bytes per host on the wire, both directions, from the veth counters, SSH and TCP overhead included (median).",
    "",
    `| scenario | ${IDS.map((d) => NAMES[d]).join(" | ")} |`,
    `|---|${IDS.map(() => "---").join("|")}|`,
    ...SCENARIOS.map(
      (s) =>
        `| ${SCENARIO_LABEL[s]} | ${IDS.map((d) => `${perHost(d, s, (x) => x.connectionsPerHost)} conn., ${perHost(d, s, (x) => x.sessionsPerHost)} sess., ${perHost(d, s, (x) => x.tasksPerHost)} tasks, ${wire(d, s)}`).join(" | ")} |`,
    ),
    "",
    "homefleet's own accounting (`DeployResult`, per host):",
    "",
    `- bytes sent (stdin of its commands): full push ${kib(avg(fullPush.map((r) => r.bytesSent)))} (of which ${kib(activateBytes)} is the`,
    `  \`homefleet-activate\` script, installed once per host), one-file change ${kib(avg(change.map((r) => r.bytesSent)))}` +
      ` (${((avg(change.map((r) => r.bytesSent)) / avg(fullPush.map((r) => r.bytesSent))) * 100).toFixed(1)}% of the full push), no-op ${kib(avg(noop.map((r) => r.bytesSent)))};`,
    `- files uploaded: ${fullPush[0].uploadedFiles.length} on the full push, ${change[0].uploadedFiles.length} on a one-file change (${change[0].uploadedFiles.join(", ")}), ${noop[0].uploadedFiles.length} on a no-op;`,
    `- restarted on a one-file change: ${[...new Set(change.flatMap((r) => r.restarted))].join(", ") || "nothing"}; on a no-op: ${[...new Set(noop.flatMap((r) => r.restarted))].join(", ") || "nothing"};`,
    `- SSH connections it reports: ${[...new Set([...fullPush, ...change, ...noop].map((r) => r.sshConnections))].join(", ")}; commands (SSH channels) per deploy: full push ${range(fullPush.map((r) => r.commands))}, one-file change ${range(change.map((r) => r.commands))}, no-op ${range(noop.map((r) => r.commands))}.`,
    "",
    "Where homefleet's time goes: node's start and loading the deployer (from the process's start to the first line of",
    "its main, median), then each SSH command it runs (named by the host-side steps it contains), timed in the process",
    "around `HostSession`'s methods, in ms per host per deploy (mean over the hosts and rounds; the hosts run in",
    "parallel, so these add up per host, not across hosts; the deploy lock's command, which lasts the whole deploy, is timed until it holds the lock):",
    "",
    `| command | ${breakdownScenarios.map((s) => SCENARIO_LABEL[s]).join(" | ")} |`,
    `|---|${breakdownScenarios.map(() => "---:").join("|")}|`,
    `| node start and loading the deployer | ${breakdowns.map((b) => ms(b.startMs)).join(" | ")} |`,
    ...labels.map((l) => `| ${l} | ${breakdowns.map((b) => ms(b.perDeploy.get(l))).join(" | ")} |`),
    `| **sum** | ${breakdowns.map((b) => ms(b.startMs + [...b.perDeploy.values()].reduce((a, v) => a + v, 0))).join(" | ")} |`,
    `| wall clock of the process (median) | ${breakdownScenarios.map((s) => ms(med("homefleet", s) * 1000)).join(" | ")} |`,
    "",
  ].join("\n");
}
