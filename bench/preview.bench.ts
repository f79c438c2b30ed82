/**
 * `pulumi preview` of fleets of several sizes, as a user runs it: the real Pulumi CLI (the
 * toolchain's, `npm run toolchain`), a file backend, the program as `npm run build` compiled it,
 * the synthetic fleet of the render benchmark (half NixOS, half Debian hosts, two stacks each).
 * Nothing connects to a host: a preview of a new stack plans every resource.
 *
 * Each size is previewed in two ways, taking turns in every round: as users run it, and with
 * PULUMI_DEBUG_PROMISE_LEAKS=1, under which the program writes the stack trace the Pulumi SDK
 * records with every promise, each mapped through source maps (bin/promiseStackTraces.js skips
 * them otherwise): the cost of those traces, measured in the same run.
 *
 *     npm run bench:preview [-- ROUNDS [HOSTS,HOSTS,...]]     (default: 3 rounds of 1, 10, 30 and 100 hosts)
 *
 * Writes its section of docs/benchmarks.md.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { PulumiProject, toolchainBin } from "../tests-e2e/support/pulumiCli";
import { writeSection } from "./benchDoc";
import { syntheticFleetConfig } from "./synthetic";
import { median } from "./median";

const ROOT = join(__dirname, "..", "..");
const STACK = "bench";

type Way = "users" | "traces";
const WAYS: readonly Way[] = ["users", "traces"];
const WAY_ENV: Record<Way, NodeJS.ProcessEnv> = { users: {}, traces: { PULUMI_DEBUG_PROMISE_LEAKS: "1" } };

/** A project mirroring the checkout (as the end-to-end tests make it), with a stack of `hosts` synthetic hosts. */
async function project(keys: string, hosts: number): Promise<PulumiProject> {
  const p = new PulumiProject(`bench-preview-${hosts}`);
  // Only the "traces" way sets it.
  delete p.env.PULUMI_DEBUG_PROMISE_LEAKS;
  const key = join(keys, `deploy-key-${hosts}`);
  const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "homefleet-bench", "-f", key], { encoding: "utf8" });
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  const fleet = syntheticFleetConfig(hosts);
  await p.initStack(STACK, { "homefleet:hosts": fleet.hosts, "homefleet:stacks": fleet.stacks }, key);
  return p;
}

/** One `pulumi preview`, timed from spawn to exit; returns seconds and the number of resources it plans. */
async function preview(p: PulumiProject, hosts: number, way: Way): Promise<{ seconds: number; resources: number }> {
  const r = await p.ok(["preview", "--stack", STACK, "--non-interactive"], { env: WAY_ENV[way] });
  const planned = /\+ (\d+) to create/.exec(r.stdout);
  if (!planned) throw new Error(`pulumi preview of ${hosts} hosts planned nothing to create:\n${r.stdout.slice(-2000)}`);
  return { seconds: r.seconds, resources: Number(planned[1]) };
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const sizes = (process.argv[3] ?? "1,10,30,100").split(",").map(Number);
  const { compiledIsFresh } = require(join(ROOT, "bin", "compiledProgram.js")) as { compiledIsFresh(root: string): boolean };
  if (!compiledIsFresh(ROOT)) throw new Error("the compiled program is older than its sources: run npm run build first (npm run bench:preview does)");
  const pulumiVersion = spawnSync(join(toolchainBin(), "pulumi"), ["version"], { encoding: "utf8" }).stdout.trim();
  const keys = mkdtempSync(join(tmpdir(), "homefleet-bench-preview-"));
  const loadBefore = loadavg()[0];
  let loadMax = loadBefore;
  const started = Date.now();
  const results: { hosts: number; resources: number; seconds: Record<Way, number[]> }[] = [];
  try {
    for (const hosts of sizes) {
      const p = await project(keys, hosts);
      try {
        // Untimed: the first preview of a new stack reads everything from a cold disk cache.
        const { resources } = await preview(p, hosts, "users");
        const seconds: Record<Way, number[]> = { users: [], traces: [] };
        for (let round = 0; round < rounds; round++) {
          for (const way of round % 2 ? [...WAYS].reverse() : WAYS) {
            loadMax = Math.max(loadMax, loadavg()[0]);
            const r = await preview(p, hosts, way);
            if (r.resources !== resources) throw new Error(`${hosts} hosts: ${r.resources} resources planned, ${resources} before`);
            seconds[way].push(r.seconds);
          }
        }
        results.push({ hosts, resources, seconds });
        process.stderr.write(`${hosts} hosts: ${WAYS.map((w) => `${w} ${seconds[w].map((s) => s.toFixed(2)).join(" ")}`).join("; ")}\n`);
      } finally {
        p.cleanup();
      }
    }
  } finally {
    rmSync(keys, { recursive: true, force: true });
  }
  const s = (x: number) => `${x.toFixed(2)} s`;
  const lines = [
    "## Preview (`pulumi preview` of a new stack, the real CLI)",
    "",
    "Command: `npm run bench:preview` (builds, then `node dist/bench/preview.bench.js`; arguments: rounds, host counts).",
    "",
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}, Pulumi CLI ${pulumiVersion} (the toolchain's).`,
    `Measured: ${new Date(started).toISOString().slice(0, 16).replace("T", " ")} UTC, ${((Date.now() - started) / 60000).toFixed(1)} min. 1-minute load average: ${loadBefore.toFixed(2)} before, up to ${loadMax.toFixed(2)} between previews, ${loadavg()[0].toFixed(2)} at the end (${cpus().length} CPUs).`,
    "",
    "Each fleet is the render benchmark's synthetic one (half NixOS, half Debian hosts, a LiteLLM and a web app stack on each), in a",
    "stack of its own with a file backend; a preview of it plans every resource (nothing connects to a host). After one untimed",
    `preview, ${rounds} rounds; in each the two ways below take turns (the first alternates), each a new \`pulumi preview\`, timed from spawn to exit.`,
    "",
    "- **as users run it**: the program skips the stack traces the Pulumi SDK records with every promise (bin/promiseStackTraces.js);",
    "- **with PULUMI_DEBUG_PROMISE_LEAKS=1**: it writes them, each frame mapped through source maps, as every preview did before.",
    "",
    "| hosts | resources | as users run it (median) | min–max | with the promise traces (median) | min–max | users / traces | per host, as users run it |",
    "|---:|---:|---:|---|---:|---|---:|---:|",
    ...results.map(({ hosts, resources, seconds }) => {
      const users = median(seconds.users);
      const traces = median(seconds.traces);
      const range = (v: number[]) => `${s(Math.min(...v))}–${s(Math.max(...v))}`;
      return `| ${hosts} | ${resources} | ${s(users)} | ${range(seconds.users)} | ${s(traces)} | ${range(seconds.traces)} | ${(users / traces).toFixed(2)} | ${s(users / hosts)} |`;
    }),
  ];
  writeSection(join(ROOT, "docs", "benchmarks.md"), "preview", lines.join("\n"));
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
