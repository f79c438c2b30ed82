/**
 * The CLI as users wait for it: each command a new `node bin/homefleet.js` process, timed from
 * spawn to exit, against a bare `node -e 0` started in the same rounds. Ratios to that reference
 * say more than milliseconds on a machine whose load comes and goes.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { crowdedHostConfig, stackFileText, syntheticFleetConfig } from "./synthetic";

const ROUNDS = Math.max(1, Number(process.env.HOMEFLEET_BENCH_CLI_ROUNDS ?? 15));
const FLEET_HOSTS = 200;
/** 17 LiteLLM stacks: 104 service units on one host. */
const CROWDED_STACKS = 17;

interface Goal {
  /** At most this many times the median of `node -e 0`. */
  readonly ratio?: number;
  /** At most this many seconds. */
  readonly seconds?: number;
}

interface CliCase {
  readonly what: string;
  /** The command as the table shows it (`$TMP` for the temporary directory). */
  readonly shown: string;
  /** Arguments after `node`, per round (a new output directory where the case wants one). */
  readonly args: (round: string) => readonly string[];
  /** The program run instead of node (a reference that is not homefleet). */
  readonly program?: string;
  /** Another case whose median this case's is compared with, as well as with `node -e 0`. */
  readonly versus?: CliCase;
  readonly cwd: string;
  readonly goal?: Goal;
}

export interface CliResult {
  readonly case: CliCase;
  /** Milliseconds, one per round, in round order. */
  readonly times: readonly number[];
  readonly medianMs: number;
  /** The last run's standard output (what it rendered). */
  readonly stdout: string;
}

export interface CliRun {
  readonly rounds: number;
  readonly results: readonly CliResult[];
  readonly loadMax: number;
  readonly fleetFileKiB: number;
  /** Service units the review scored on the crowded host. */
  readonly crowdedUnits: number;
  readonly systemdAnalyze: string;
  /** Homefleet runs after which the bundle was out of date (they may have run dist/cli/main.js), and rebuilds between rounds. */
  readonly staleRuns: number;
  readonly rebuilds: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** bin/cliBundle.js, the launcher's own helper (plain JavaScript, as bin/homefleet.js loads it). */
function launcher(root: string): { bundleIsFresh(): boolean } {
  return require(join(root, "bin", "cliBundle.js")) as { bundleIsFresh(): boolean };
}

/**
 * Rebuilds the bundle when a compiled file is newer than it (someone ran tsc): the CLI would
 * otherwise fall back to dist/cli/main.js, which `npm ci` never leaves a user with.
 */
function freshBundle(root: string): boolean {
  if (launcher(root).bundleIsFresh()) return false;
  const build = spawnSync(process.execPath, [join(root, "bin", "build-cli-bundle.js")], { cwd: root, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`bin/build-cli-bundle.js failed:\n${build.stderr}`);
  return true;
}

/** Whether case `i` runs homefleet: not the `node -e 0` reference (the first), nor another program. */
function runsHomefleet(c: CliCase, i: number): boolean {
  return i > 0 && c.program === undefined;
}

function timed(c: CliCase, round: string): { ms: number; stdout: string } {
  const start = performance.now();
  const run = spawnSync(c.program ?? process.execPath, [...c.args(round)], { cwd: c.cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - start;
  if (run.status !== 0) throw new Error(`${c.shown} exited ${run.status ?? run.signal}:\n${run.stderr}`);
  return { ms, stdout: run.stdout };
}

/** Runs every case once untimed, then `ROUNDS` rounds of all cases in order; removes its files. */
export function measureCli(root: string): CliRun {
  const tmp = mkdtempSync(join(tmpdir(), "homefleet-bench-cli-"));
  try {
    const bin = join(root, "bin", "homefleet.js");
    const fleetFile = join(tmp, "Pulumi.fleet200.yaml");
    const fleetText = stackFileText(syntheticFleetConfig(FLEET_HOSTS));
    writeFileSync(fleetFile, fleetText);
    const crowdedFile = join(tmp, "Pulumi.crowded.yaml");
    writeFileSync(crowdedFile, stackFileText(crowdedHostConfig(CROWDED_STACKS)));
    const reviewOut = join(tmp, "review.json");

    const copy: CliCase = {
      what: `copy the same ${FLEET_HOSTS} rendered hosts into a new directory: the file system's part of the case above`,
      shown: "cp -r $TMP/fleet200 $TMP/copy-N",
      program: "cp",
      args: (round) => ["-r", join(tmp, "fleet200"), join(tmp, `copy-${round}`)],
      cwd: root,
    };
    const cases: CliCase[] = [
      { what: "reference: a bare node start", shown: "node -e 0", args: () => ["-e", "0"], cwd: root },
      {
        what: "render a small stack (Pulumi.staging.yaml) over its previous render",
        shown: "node bin/homefleet.js render --stack staging --out $TMP/staging",
        args: () => [bin, "render", "--stack", "staging", "--out", join(tmp, "staging")],
        cwd: root,
        goal: { ratio: 2 },
      },
      {
        what: `render ${FLEET_HOSTS} hosts over their previous render`,
        shown: "node bin/homefleet.js render --config $TMP/Pulumi.fleet200.yaml --out $TMP/fleet200",
        args: () => [bin, "render", "--config", fleetFile, "--out", join(tmp, "fleet200")],
        cwd: root,
        goal: { ratio: 8 },
      },
      {
        what: `render ${FLEET_HOSTS} hosts into a new directory`,
        shown: "node bin/homefleet.js render --config $TMP/Pulumi.fleet200.yaml --out $TMP/fleet200-new-N",
        args: (round) => [bin, "render", "--config", fleetFile, "--out", join(tmp, `fleet200-new-${round}`)],
        cwd: root,
        goal: { ratio: 8 },
        versus: copy,
      },
      copy,
      {
        what: `review a host with ${CROWDED_STACKS} stacks, systemd-analyze security included`,
        shown: "node bin/homefleet.js review --config $TMP/Pulumi.crowded.yaml --format json --out $TMP/review.json",
        args: () => [bin, "review", "--config", crowdedFile, "--format", "json", "--out", reviewOut],
        cwd: root,
        goal: { seconds: 3 },
      },
    ];

    let rebuilds = freshBundle(root) ? 1 : 0;
    for (const c of cases) timed(c, "warmup");
    const times = cases.map((): number[] => []);
    const stdout = cases.map(() => "");
    let loadMax = loadavg()[0];
    let staleRuns = 0;
    for (let round = 0; round < ROUNDS; round++) {
      if (freshBundle(root)) rebuilds++;
      cases.forEach((c, i) => {
        const run = timed(c, String(round));
        times[i].push(run.ms);
        stdout[i] = run.stdout;
        if (runsHomefleet(c, i) && !launcher(root).bundleIsFresh()) staleRuns++;
      });
      loadMax = Math.max(loadMax, loadavg()[0]);
    }

    const review = JSON.parse(readFileSync(reviewOut, "utf8")) as { hosts: { name: string; exposure?: Record<string, number> }[] };
    const crowded = review.hosts.find((h) => h.name === "crowded");
    const version = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" }).stdout?.split("\n")[0] ?? "";
    return {
      rounds: ROUNDS,
      results: cases.map((c, i) => ({ case: c, times: times[i], medianMs: median(times[i]), stdout: stdout[i] })),
      loadMax,
      fleetFileKiB: Buffer.byteLength(fleetText) / 1024,
      crowdedUnits: Object.keys(crowded?.exposure ?? {}).length,
      systemdAnalyze: version || "not installed",
      staleRuns,
      rebuilds,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/** Markdown lines for the benchmark document. */
export function cliReport(run: CliRun): string[] {
  const reference = run.results[0].medianMs;
  const verdict = (r: CliResult): string => {
    const goal = r.case.goal;
    if (!goal) return "";
    const ratio = r.medianMs / reference;
    if (goal.ratio !== undefined) return `≤ ${goal.ratio}× | ${ratio <= goal.ratio ? "yes" : "**no**"}`;
    return `< ${goal.seconds} s | ${r.medianMs < goal.seconds! * 1000 ? "yes" : "**no**"}`;
  };
  return [
    "### The CLI, as users wait for it",
    "",
    `Each command is a new process (\`spawnSync\` of \`${process.execPath.endsWith("node") ? "node" : process.execPath}\`, timed from spawn to exit), in the repository`,
    `root. One untimed warm-up round, then ${run.rounds} rounds, each running every command once in the order`,
    "below, so that load that comes and goes meets all of them. `$TMP` is a new temporary directory.",
    "bin/homefleet.js runs the CLI from its bundle with V8's code cache (bin/cliBundle.js), as after `npm ci`; the benchmark builds",
    `the bundle first and again before a round where a compiled file had become newer than it (${run.rebuilds} builds in this run).`,
    run.staleRuns
      ? `**${run.staleRuns} of ${run.rounds * run.results.filter((r, i) => runsHomefleet(r.case, i)).length} homefleet runs found the bundle out of date when they ended** (someone ran tsc meanwhile): they may have run dist/cli/main.js.`
      : `Every homefleet run found the bundle up to date when it ended.`,
    `Highest 1-minute load average seen between rounds: ${run.loadMax.toFixed(2)}.`,
    "",
    "| command | what | median | min | max | median / `node -e 0` | goal | met |",
    "|---|---|---:|---:|---:|---:|---|:---:|",
    ...run.results.map((r) => {
      const versus = run.results.find((o) => o.case === r.case.versus);
      const ratio = (r === run.results[0] ? "1" : `${(r.medianMs / reference).toFixed(2)}×`) + (versus ? ` (${(r.medianMs / versus.medianMs).toFixed(2)}× \`${versus.case.shown.split(" $")[0]}\`)` : "");
      return `| \`${r.case.shown}\` | ${r.case.what} | ${seconds(r.medianMs)} | ${seconds(Math.min(...r.times))} | ${seconds(Math.max(...r.times))} | ${ratio} | ${verdict(r) || " | "} |`;
    }),
    "",
    `The ${FLEET_HOSTS}-host stack file (${run.fleetFileKiB.toFixed(0)} KiB of YAML) is the in-process benchmark's synthetic fleet below, doubled:`,
    `half NixOS, half Debian hosts, each with a LiteLLM and a web app stack. ${run.results[2].stdout.split(" (")[0].replace(/^rendered/, "The CLI rendered")}.`,
    `The crowded host is one Debian host with ${CROWDED_STACKS} LiteLLM stacks (bridge, database, Redis each): the review scored`,
    `${run.crowdedUnits} service units with \`systemd-analyze security\` (${run.systemdAnalyze}).`,
  ];
}
