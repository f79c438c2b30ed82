/**
 * `pulumi up` of fleets of real test hosts, as a user runs it: the real Pulumi CLI (the
 * toolchain's, `npm run toolchain`), a file backend, the program as `npm run build` compiled it,
 * Debian test hosts (e2e/testhosts.sh) with one LiteLLM stack each (the end-to-end tests' stand-in
 * image, PostgreSQL and Redis).
 *
 * Each round boots every host afresh (its root is a volatile overlay) for each of two ways, which
 * take turns: as users run it, and with PULUMI_SKIP_CHECKPOINTS=true, under which the engine
 * writes the state once at the end instead of after every step. The difference is what writing
 * the state as the update goes costs, and so what a smaller state per host can save. Each way
 * times a first `pulumi up` (every host deployed), a no-op `pulumi up` and `pulumi destroy`, and
 * the state after the first up is weighed: per resource type, and the host deployment's biggest
 * properties.
 *
 *     npm run bench:up [-- ROUNDS [HOSTS,HOSTS,...]]     (default: 1 round of 2, 8 and 16 hosts)
 *
 * HOMEFLEET_BENCH_HOSTS chooses the test hosts' indexes (61-80 by default). Writes its section of
 * docs/benchmarks.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { standinStack } from "../tests-e2e/support/fleet";
import { PulumiProject, toolchainBin } from "../tests-e2e/support/pulumiCli";
import { writeSection } from "./benchDoc";
import { bootHosts, hostIndexes, inotifyShortfall, progress, TestHosts, type Host } from "./deployHosts";
import { median } from "./median";

const ROOT = join(__dirname, "..", "..");
const STACK = "bench";

type Way = "users" | "final";
const WAYS: readonly Way[] = ["users", "final"];
const WAY_ENV: Record<Way, NodeJS.ProcessEnv> = { users: {}, final: { PULUMI_SKIP_CHECKPOINTS: "true" } };

interface Sample {
  readonly first: number;
  readonly noop: number;
  readonly destroy: number;
  readonly stateBytes: number;
  readonly resources: number;
  /** Bytes of the state's JSON per resource type, and of the host deployments' largest properties. */
  readonly byType: Record<string, number>;
  readonly byProperty: Record<string, number>;
}

function config(hosts: readonly Host[]): Record<string, unknown> {
  return {
    "homefleet:hosts": Object.fromEntries(hosts.map((h) => [h.name, { address: h.address, arch: "x86_64", os: "systemd", hostKey: h.hostKey, podman: { cgroups: "disabled" } }])),
    "homefleet:stacks": Object.fromEntries(hosts.map((h) => [`proxy-${h.index}`, standinStack(h.name)])),
    "homefleet:deploy": { healthTimeoutSec: 90, healthSoakSec: 5, confirmAfterSec: 180 },
  };
}

/** Bytes of each resource type's entries in the state, and of the host deployments' largest inputs and outputs. */
function weigh(stateFile: string): { stateBytes: number; resources: number; byType: Record<string, number>; byProperty: Record<string, number> } {
  const text = readFileSync(stateFile, "utf8");
  const resources = (JSON.parse(text).checkpoint?.latest?.resources ?? []) as { type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[];
  const byType: Record<string, number> = {};
  const byProperty: Record<string, number> = {};
  const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? "");
  for (const r of resources) {
    byType[r.type] = (byType[r.type] ?? 0) + size(r);
    if (!r.type.endsWith("HostDeployment")) continue;
    for (const side of ["inputs", "outputs"] as const) for (const [key, value] of Object.entries(r[side] ?? {})) byProperty[`${side}.${key}`] = (byProperty[`${side}.${key}`] ?? 0) + size(value);
  }
  return { stateBytes: Buffer.byteLength(text), resources: resources.length, byType, byProperty };
}

async function measure(testhosts: TestHosts, slots: readonly { name: string; index: number }[], way: Way, label: string): Promise<Sample> {
  const booted = await bootHosts(testhosts, slots, 4);
  const hosts = slots.map((s) => booted.get(s.name)!);
  const p = new PulumiProject(`bench-up-${label}`);
  delete p.env.PULUMI_SKIP_CHECKPOINTS;
  try {
    // The test hosts' key (e2e/testhosts.sh authorizes it on every host).
    await p.initStack(STACK, config(hosts), hosts[0].keyFile);
    const up = (what: string) => p.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--non-interactive"], { env: WAY_ENV[way], timeoutSec: 1200 }).then((r) => {
      progress(`${label}: ${what} ${r.seconds.toFixed(1)} s`);
      return r;
    });
    const first = await up("first up");
    const weighed = weigh(p.stateFile(STACK));
    const noop = await up("no-op up");
    if (!/\d+ unchanged/.test(noop.stdout) || /\d+ (updated|created)/.test(noop.stdout)) throw new Error(`${label}: the second pulumi up changed something:\n${noop.stdout.slice(-2000)}`);
    const destroy = await p.ok(["destroy", "--stack", STACK, "--yes", "--skip-preview", "--non-interactive"], { env: WAY_ENV[way], timeoutSec: 1200 });
    progress(`${label}: destroy ${destroy.seconds.toFixed(1)} s`);
    return { first: first.seconds, noop: noop.seconds, destroy: destroy.seconds, ...weighed };
  } finally {
    p.cleanup();
    testhosts.downSync(slots.map((s) => s.name));
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 1);
  const sizes = (process.argv[3] ?? "2,8,16").split(",").map(Number);
  if (process.getuid?.() !== 0) throw new Error("must run as root (the test hosts are systemd-nspawn containers)");
  const { compiledIsFresh } = require(join(ROOT, "bin", "compiledProgram.js")) as { compiledIsFresh(root: string): boolean };
  if (!compiledIsFresh(ROOT)) throw new Error("the compiled program is older than its sources: run npm run build first (npm run bench:up does)");
  const pulumiVersion = spawnSync(join(toolchainBin(), "pulumi"), ["version"], { encoding: "utf8" }).stdout.trim();
  const indexes = hostIndexes(Math.max(...sizes));
  const inotify = inotifyShortfall(indexes.length);
  if (inotify) throw new Error(inotify);
  const work = mkdtempSync(join(tmpdir(), "homefleet-up-bench-"));
  mkdirSync(join(work, "e2e"));
  // bash reads a script while it runs it: a copy, so that an edit during the run breaks nothing.
  copyFileSync(join(ROOT, "e2e", "testhosts.sh"), join(work, "e2e", "testhosts.sh"));
  symlinkSync(join(ROOT, "e2e", "standin"), join(work, "e2e", "standin"));
  const testhosts = new TestHosts(join(work, "e2e", "testhosts.sh"));
  const slotsOf = (n: number) => indexes.slice(0, n).map((index) => ({ name: `up-${index}`, index }));
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the bench hosts`);
    testhosts.downSync(slotsOf(Math.max(...sizes)).map((s) => s.name));
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const loadBefore = loadavg()[0];
  let loadMax = loadBefore;
  const started = Date.now();
  const results: { hosts: number; samples: Record<Way, Sample[]> }[] = [];
  try {
    for (const hosts of sizes) {
      const samples: Record<Way, Sample[]> = { users: [], final: [] };
      for (let round = 0; round < rounds; round++) {
        for (const way of round % 2 ? [...WAYS].reverse() : WAYS) {
          loadMax = Math.max(loadMax, loadavg()[0]);
          samples[way].push(await measure(testhosts, slotsOf(hosts), way, `${hosts} hosts, round ${round + 1}, ${way}`));
        }
      }
      results.push({ hosts, samples });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const s = (x: number) => `${x.toFixed(1)} s`;
  const kb = (x: number) => `${Math.round(x / 1000)} KB`;
  const mb = (x: number) => `${(x / 1e6).toFixed(2)} MB`;
  const med = (xs: readonly Sample[], f: (x: Sample) => number) => median(xs.map(f));
  const last = results[results.length - 1];
  const weighed = last.samples.users[0];
  const perHost = (bytes: number) => kb(bytes / last.hosts);
  const lines = [
    "## `pulumi up` of test hosts, and the state it keeps (the real CLI)",
    "",
    "Command: `npm run bench:up` (builds, then `node dist/bench/up.bench.js`; arguments: rounds, host counts; `HOMEFLEET_BENCH_HOSTS` picks the test hosts).",
    "",
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}, Pulumi CLI ${pulumiVersion} (the toolchain's). The test hosts run on the same CPUs.`,
    `Measured: ${new Date(started).toISOString().slice(0, 16).replace("T", " ")} UTC, ${((Date.now() - started) / 60000).toFixed(1)} min. 1-minute load average: ${loadBefore.toFixed(2)} before, up to ${loadMax.toFixed(2)} between runs, ${loadavg()[0].toFixed(2)} at the end (${cpus().length} CPUs).`,
    "",
    "Each host is a Debian test host (e2e/testhosts.sh), booted afresh for every run, with one LiteLLM stack (the end-to-end",
    "tests' stand-in image, PostgreSQL and Redis); the stack has a file backend. A run is `pulumi up` (every host deployed),",
    "`pulumi up` again (nothing to do) and `pulumi destroy`, each `--yes --skip-preview`, timed from spawn to exit. Two ways",
    `take turns in each of ${rounds} round(s): as users run it, and with \`PULUMI_SKIP_CHECKPOINTS=true\`, under which the engine writes`,
    "the state once at the end instead of after every step: the difference is what writing the state as the update goes costs.",
    "",
    "| hosts | resources | state | per host | first up | first up, state at the end only | no-op up | no-op, at the end only | destroy | destroy, at the end only |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map(({ hosts, samples }) => {
      const u = samples.users;
      const f = samples.final;
      const state = med(u, (x) => x.stateBytes);
      return `| ${hosts} | ${u[0].resources} | ${mb(state)} | ${kb(state / hosts)} | ${s(med(u, (x) => x.first))} | ${s(med(f, (x) => x.first))} | ${s(med(u, (x) => x.noop))} | ${s(med(f, (x) => x.noop))} | ${s(med(u, (x) => x.destroy))} | ${s(med(f, (x) => x.destroy))} |`;
    }),
    "",
    `What the state of ${last.hosts} hosts holds, per host (the JSON of each resource type's entries, and of the host deployment's largest properties):`,
    "",
    "| resource type | per host |",
    "|---|---:|",
    ...Object.entries(weighed.byType)
      .sort((a, b) => b[1] - a[1])
      .map(([type, bytes]) => `| ${type} | ${perHost(bytes)} |`),
    "",
    "| host deployment property | per host |",
    "|---|---:|",
    ...Object.entries(weighed.byProperty)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([prop, bytes]) => `| ${prop} | ${perHost(bytes)} |`),
  ];
  writeSection(join(ROOT, "docs", "benchmarks.md"), "up", lines.join("\n"));
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
