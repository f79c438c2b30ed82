/**
 * Render benchmark, two parts, one run:
 * - the CLI as users wait for it: `node bin/homefleet.js render` of a small stack and of 200 hosts,
 *   and `review` of a host with a hundred service units, each a new process, timed against a bare
 *   `node -e 0` started in the same rounds;
 * - in process: how long config → model → rendered files → manifest takes for each committed
 *   stack, and for a synthetic fleet of 100 hosts.
 * Writes its section of docs/benchmarks.md.
 * Run: npm run bench (or, compiled: node dist/bench/render.bench.js)
 */
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { renderFleet } from "../bundle/hostBundle";
import { loadStackFile, parseFleetConfig, type FleetConfig } from "../config/load";
import { writeSection } from "./benchDoc";
import { measureCli, cliReport } from "./cliTiming";
import { syntheticFleetConfig } from "./synthetic";

interface Result {
  readonly name: string;
  readonly hosts: number;
  readonly stacks: number;
  readonly files: number;
  readonly runs: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly heapMiB: number;
}

function syntheticFleet(hostCount: number): FleetConfig {
  return parseFleetConfig(syntheticFleetConfig(hostCount));
}

function measure(name: string, load: () => FleetConfig, runs: number): Result {
  // Warm-up: JIT and module caches, so the numbers describe steady-state rendering.
  for (let i = 0; i < 3; i++) renderFleet(load());
  const times: number[] = [];
  let files = 0;
  let hosts = 0;
  let stacks = 0;
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const render = renderFleet(load());
    times.push(performance.now() - start);
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    files = render.bundles.reduce((n, b) => n + b.files.length, 0);
    hosts = render.bundles.length;
    stacks = render.model.hosts.reduce((n, h) => n + h.stacks.length, 0);
  }
  times.sort((a, b) => a - b);
  return {
    name,
    hosts,
    stacks,
    files,
    runs,
    medianMs: times[Math.floor(times.length / 2)],
    p95Ms: times[Math.min(times.length - 1, Math.floor(times.length * 0.95))],
    heapMiB: (heapPeak - heapBefore) / 1024 / 1024,
  };
}

const root = join(__dirname, "..", "..");
// The CLI first: the goals are about it.
const loadBefore = loadavg()[0];
const cli = measureCli(root);
const results = [
  measure("staging (Pulumi.staging.yaml, incl. YAML parse)", () => loadStackFile(join(root, "Pulumi.staging.yaml")), 200),
  measure("prod (Pulumi.prod.yaml, incl. YAML parse)", () => loadStackFile(join(root, "Pulumi.prod.yaml")), 200),
  measure("synthetic: 100 hosts, 200 stacks (validated config)", () => syntheticFleet(100), 20),
];

const cpu = cpus()[0]?.model ?? "unknown CPU";
const lines = [
  "## Render (config → model → files → manifest)",
  "",
  "Command: `npm run bench` (compiles, then `node dist/bench/render.bench.js`).",
  "",
  `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}, ${process.platform}/${process.arch}.`,
  `Measured: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC. 1-minute load average: ${loadBefore.toFixed(2)} before the run, ${loadavg()[0].toFixed(2)} at its end (the machine has ${cpus().length} CPUs).`,
  "",
  ...cliReport(cli),
  "",
  "### In process",
  "",
  "Times are the wall-clock time of loading the config plus `renderFleet`, per run, after 3 warm-up runs; heap is the growth of",
  "`heapUsed` over the runs (an upper bound, garbage collection is not forced between runs).",
  "",
  "| input | hosts | stacks | files | runs | median ms | p95 ms | heap growth MiB |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  ...results.map((r) => `| ${r.name} | ${r.hosts} | ${r.stacks} | ${r.files} | ${r.runs} | ${r.medianMs.toFixed(2)} | ${r.p95Ms.toFixed(2)} | ${r.heapMiB.toFixed(1)} |`),
  "",
];
// Only this section of docs/benchmarks.md: the deploy benchmark writes its own.
writeSection(join(root, "docs", "benchmarks.md"), "render", lines.join("\n"));
process.stdout.write(lines.join("\n"));
