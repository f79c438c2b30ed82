/**
 * The CLI as users wait for it: each command a new process of node_modules/.bin/homefleet (what
 * `npx homefleet` runs: bin/homefleet, which starts node from the CLI's startup snapshot), timed
 * from spawn to exit, against a bare `node -e 0` started in the same rounds. Ratios to that
 * reference say more than milliseconds on a machine whose load comes and goes.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { crowdedHostConfig, stackFileText, syntheticFleetConfig } from "./synthetic";
import { median } from "./median";

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
  /** Arguments after the program, per round (a new output directory where the case wants one). */
  readonly args: (round: string) => readonly string[];
  /** The program run instead of node: the homefleet command, or a reference that is not homefleet. */
  readonly program?: string;
  /** Whether the case runs homefleet. */
  readonly homefleet?: boolean;
  /** Another case whose median this case's is compared with, as well as with `node -e 0`. */
  readonly versus?: CliCase;
  readonly cwd: string;
  readonly goal?: Goal;
  /** Environment variables the command runs without. */
  readonly unset?: readonly string[];
  /** The `node -e 0` this case's ratio is to, when not the first case (one run with the same environment). */
  readonly reference?: CliCase;
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
  /**
   * Homefleet runs after which the bundle was out of date or the snapshot for this node missing
   * (they may have started without it), and rebuilds between rounds.
   */
  readonly staleRuns: number;
  /** What `node --version` says on the PATH the commands run with. */
  readonly nodeOnPath: string;
  readonly rebuilds: number;
}

/** Whether the bundle is up to date and the startup snapshot for this node is there (bin/cliBundle.js, bin/cliSnapshot.js). */
function launchable(root: string): boolean {
  const bundle = require(join(root, "bin", "cliBundle.js")) as { bundleIsFresh(): boolean };
  const snapshot = require(join(root, "bin", "cliSnapshot.js")) as { snapshotBlob(version: string): string };
  return bundle.bundleIsFresh() && existsSync(snapshot.snapshotBlob(process.version));
}

/**
 * Rebuilds the bundle and its snapshot when a compiled file is newer than it (someone ran tsc):
 * the CLI would otherwise fall back to dist/cli/main.js, which `npm ci` never leaves a user with.
 */
function freshBundle(root: string): boolean {
  if (launchable(root)) return false;
  const build = spawnSync(process.execPath, [join(root, "bin", "build-cli-bundle.js")], { cwd: root, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`bin/build-cli-bundle.js failed:\n${build.stderr}`);
  return true;
}

/**
 * The environment a command runs with: without NODE_OPTIONS, under which the launcher does not use
 * the snapshot, and without the variables `unset` names.
 */
function commandEnv(unset: readonly string[] = []): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  for (const name of unset) delete env[name];
  return env;
}

/**
 * Node.js 20 reads and parses the certificates in NODE_EXTRA_CA_CERTS when any process starts, TLS
 * or not. Some machines set it for the whole system (the one this benchmark runs on in CI does, to the system's CA
 * bundle: about 100 ms of every start); most do not. The benchmark measures both.
 */
const EXTRA_CA_CERTS = "NODE_EXTRA_CA_CERTS";

function timed(c: CliCase, round: string): { ms: number; stdout: string } {
  const start = performance.now();
  const run = spawnSync(c.program ?? process.execPath, [...c.args(round)], { cwd: c.cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: commandEnv(c.unset) });
  const ms = performance.now() - start;
  if (run.status !== 0) throw new Error(`${c.shown} exited ${run.status ?? run.signal}:\n${run.stderr}`);
  return { ms, stdout: run.stdout };
}

/** Runs every case once untimed, then `ROUNDS` rounds of all cases in order; removes its files. */
export function measureCli(root: string): CliRun {
  const tmp = mkdtempSync(join(tmpdir(), "homefleet-bench-cli-"));
  try {
    const homefleet = join(root, "node_modules", ".bin", "homefleet");
    const fleetFile = join(tmp, "Pulumi.fleet200.yaml");
    const fleetText = stackFileText(syntheticFleetConfig(FLEET_HOSTS));
    writeFileSync(fleetFile, fleetText);
    // Edits as users make them, new in every round (a value no earlier round had): one host's
    // PostgreSQL setting, or every host's.
    const edited = (round: string, hosts: "one" | "every"): string => join(tmp, `Pulumi.fleet200-${hosts}-${round}.yaml`);
    ["warmup", ...Array.from({ length: ROUNDS }, (_, i) => String(i))].forEach((round, i) => {
      for (const which of ["one", "every"] as const) {
        const config = syntheticFleetConfig(FLEET_HOSTS);
        for (const [name, host] of Object.entries(config.hosts) as [string, { postgresql: { settings: Record<string, string> } }][]) {
          if (which === "every" || name === "host1") host.postgresql.settings.shared_buffers = `${300 + i}MB`;
        }
        writeFileSync(edited(round, which), stackFileText(config));
      }
    });
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
    // The same renders started without the snapshot (bin/homefleet.js: the bundle and its code
    // cache), each into a directory of its own: what the snapshot gains, measured in the same rounds.
    const plainBin = join(root, "bin", "homefleet.js");
    const plainStaging: CliCase = {
      what: "the same, started without the snapshot (bin/homefleet.js: the bundle with its code cache)",
      shown: "node bin/homefleet.js render --stack staging --out $TMP/staging-plain",
      homefleet: true,
      args: () => [plainBin, "render", "--stack", "staging", "--out", join(tmp, "staging-plain")],
      cwd: root,
    };
    const plainFleet: CliCase = {
      what: "the same, started without the snapshot",
      shown: "node bin/homefleet.js render --config $TMP/Pulumi.fleet200.yaml --out $TMP/fleet200-plain",
      homefleet: true,
      args: () => [plainBin, "render", "--config", fleetFile, "--out", join(tmp, "fleet200-plain")],
      cwd: root,
    };
    const fleet: CliCase = {
      what: `render ${FLEET_HOSTS} hosts over their previous render, no host changed (every host's files kept)`,
      shown: "node_modules/.bin/homefleet render --config $TMP/Pulumi.fleet200.yaml --out $TMP/fleet200",
      program: homefleet,
      homefleet: true,
      args: () => ["render", "--config", fleetFile, "--out", join(tmp, "fleet200")],
      cwd: root,
      goal: { ratio: 8 },
      versus: plainFleet,
    };
    const staging: CliCase = {
      what: "render a small stack (Pulumi.staging.yaml) over its previous render",
      shown: "node_modules/.bin/homefleet render --stack staging --out $TMP/staging",
      program: homefleet,
      homefleet: true,
      args: () => ["render", "--stack", "staging", "--out", join(tmp, "staging")],
      cwd: root,
      goal: { ratio: 2 },
      versus: plainStaging,
    };
    const bareNode: CliCase = { what: "reference: a bare node start", shown: "node -e 0", args: () => ["-e", "0"], cwd: root };
    // The reference and the two re-renders once more without the extra certificates (each render
    // into a directory of its own), their ratios to that reference.
    const unset = [EXTRA_CA_CERTS];
    const bareNodeWithoutCerts: CliCase = { ...bareNode, what: `reference without ${EXTRA_CA_CERTS}`, shown: `env -u ${EXTRA_CA_CERTS} node -e 0`, unset };
    const withoutCertsCases: CliCase[] = !process.env[EXTRA_CA_CERTS]
      ? []
      : [
          bareNodeWithoutCerts,
          {
            ...staging,
            what: `the small stack's re-render, without ${EXTRA_CA_CERTS}`,
            shown: `env -u ${EXTRA_CA_CERTS} node_modules/.bin/homefleet render --stack staging --out $TMP/staging-no-certs`,
            args: () => ["render", "--stack", "staging", "--out", join(tmp, "staging-no-certs")],
            unset,
            versus: undefined,
            reference: bareNodeWithoutCerts,
          },
          {
            ...fleet,
            what: `the ${FLEET_HOSTS} hosts' re-render, without ${EXTRA_CA_CERTS}`,
            shown: `env -u ${EXTRA_CA_CERTS} node_modules/.bin/homefleet render --config $TMP/Pulumi.fleet200.yaml --out $TMP/fleet200-no-certs`,
            args: () => ["render", "--config", fleetFile, "--out", join(tmp, "fleet200-no-certs")],
            unset,
            versus: undefined,
            reference: bareNodeWithoutCerts,
          },
        ];
    /** The 200 hosts rendered over their previous render after the edit of `hosts` (a new one each round). */
    const afterEdit = (hosts: "one" | "every", outcome: string): CliCase => ({
      what: `render ${FLEET_HOSTS} hosts over their previous render after a change to ${hosts} host's config (${outcome})`,
      shown: `node_modules/.bin/homefleet render --config $TMP/Pulumi.fleet200-${hosts}-N.yaml --out $TMP/fleet200-${hosts}`,
      program: homefleet,
      homefleet: true,
      args: (round) => ["render", "--config", edited(round, hosts), "--out", join(tmp, `fleet200-${hosts}`)],
      cwd: root,
      goal: { ratio: 8 },
    });
    const cases: CliCase[] = [
      bareNode,
      staging,
      plainStaging,
      fleet,
      plainFleet,
      afterEdit("one", "that host rendered, the others' files kept"),
      afterEdit("every", "every host rendered"),
      {
        what: `render ${FLEET_HOSTS} hosts into a new directory`,
        shown: "node_modules/.bin/homefleet render --config $TMP/Pulumi.fleet200.yaml --out $TMP/fleet200-new-N",
        program: homefleet,
        homefleet: true,
        args: (round) => ["render", "--config", fleetFile, "--out", join(tmp, `fleet200-new-${round}`)],
        cwd: root,
        goal: { ratio: 8 },
        versus: copy,
      },
      copy,
      {
        what: `review a host with ${CROWDED_STACKS} stacks, systemd-analyze security included`,
        shown: "node_modules/.bin/homefleet review --config $TMP/Pulumi.crowded.yaml --format json --out $TMP/review.json",
        program: homefleet,
        homefleet: true,
        args: () => ["review", "--config", crowdedFile, "--format", "json", "--out", reviewOut],
        cwd: root,
        goal: { seconds: 3 },
      },
      ...withoutCertsCases,
    ];

    let rebuilds = freshBundle(root) ? 1 : 0;
    // Twice: the second finds the first's render settled and records its render keys, as a
    // render over an earlier one does.
    for (let pass = 0; pass < 2; pass++) for (const c of cases) timed(c, "warmup");
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
        if (c.homefleet && !launchable(root)) staleRuns++;
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
      nodeOnPath: spawnSync("node", ["--version"], { encoding: "utf8", env: commandEnv() }).stdout?.trim() || "none",
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
  /** The median of the `node -e 0` a result's ratio is to. */
  const referenceOf = (r: CliResult): number => (r.case.reference ? run.results.find((o) => o.case === r.case.reference)!.medianMs : run.results[0].medianMs);
  const withoutCerts = run.results.find((r) => r.case.unset?.includes(EXTRA_CA_CERTS) && !r.case.reference);
  const verdict = (r: CliResult): string => {
    const goal = r.case.goal;
    if (!goal) return "";
    const ratio = r.medianMs / referenceOf(r);
    if (goal.ratio !== undefined) return `≤ ${goal.ratio}× | ${ratio <= goal.ratio ? "yes" : "**no**"}`;
    return `< ${goal.seconds} s | ${r.medianMs < goal.seconds! * 1000 ? "yes" : "**no**"}`;
  };
  return [
    "### The CLI, as users wait for it",
    "",
    "Each command is a new process (`spawnSync` of the program the command names, timed from spawn to exit), in the repository",
    `root. Two untimed warm-up rounds, then ${run.rounds} rounds, each running every command once in the order`,
    "below, so that load that comes and goes meets all of them. `$TMP` is a new temporary directory.",
    "node_modules/.bin/homefleet is what `npx homefleet` runs: bin/homefleet, which starts node from the CLI's startup snapshot",
    "(bin/cliSnapshot.js) for the node on PATH, as after `npm ci`. The commands run without NODE_OPTIONS, under which it would not.",
    `The benchmark builds the bundle, its code cache and the snapshot first, and again before a round where a compiled file had become newer than the bundle (${run.rebuilds} builds in this run).`,
    run.nodeOnPath === process.version
      ? `The node on PATH is the benchmark's own, ${process.version}.`
      : `**The node on PATH is ${run.nodeOnPath}, not the benchmark's ${process.version}: homefleet started without a snapshot.**`,
    run.staleRuns
      ? `**${run.staleRuns} of ${run.rounds * run.results.filter((r) => r.case.homefleet).length} homefleet runs found the bundle out of date or the snapshot missing when they ended** (someone ran tsc meanwhile): they may have started without them.`
      : `Every homefleet run found the bundle up to date and the snapshot there when it ended.`,
    `Highest 1-minute load average seen between rounds: ${run.loadMax.toFixed(2)}.`,
    withoutCerts
      ? `This machine sets ${EXTRA_CA_CERTS} (to ${process.env[EXTRA_CA_CERTS]}), and Node.js 20 reads and parses those certificates when any process starts: ` +
        `${(run.results[0].medianMs - withoutCerts.medianMs).toFixed(0)} ms of every start here, in \`node -e 0\` and in homefleet alike. Most machines do not set it, so the last rows run ` +
        `the reference and the two re-renders without it: their ratios are to \`node -e 0\` without it, and show what the start costs where a bare node start is short.`
      : `${EXTRA_CA_CERTS} is not set on this machine.`,
    "",
    "| command | what | median | min | max | median / `node -e 0` | goal | met |",
    "|---|---|---:|---:|---:|---:|---|:---:|",
    ...run.results.map((r) => {
      const versus = run.results.find((o) => o.case === r.case.versus);
      const ratio = (r === run.results[0] || r === withoutCerts ? "1" : `${(r.medianMs / referenceOf(r)).toFixed(2)}×`) + (versus ? ` (${(r.medianMs / versus.medianMs).toFixed(2)}× \`${versus.case.shown.split(" $")[0]}\`)` : "");
      return `| \`${r.case.shown}\` | ${r.case.what} | ${seconds(r.medianMs)} | ${seconds(Math.min(...r.times))} | ${seconds(Math.max(...r.times))} | ${ratio} | ${verdict(r) || " | "} |`;
    }),
    "",
    `The ${FLEET_HOSTS}-host stack file (${run.fleetFileKiB.toFixed(0)} KiB of YAML) is the in-process benchmark's synthetic fleet below, doubled:`,
    `half NixOS, half Debian hosts, each with a LiteLLM and a web app stack. ${run.results.find((r) => r.case.what.startsWith(`render ${FLEET_HOSTS} hosts over`))!.stdout.split(" (")[0].replace(/^rendered/, "The CLI rendered")}.`,
    `The crowded host is one Debian host with ${CROWDED_STACKS} LiteLLM stacks (bridge, database, Redis each): the review scored`,
    `${run.crowdedUnits} service units with \`systemd-analyze security\` (${run.systemdAnalyze}).`,
  ];
}
