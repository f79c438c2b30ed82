/**
 * How long the SDK takes to serialize the host deployment's dynamic provider, and how large the
 * result is (every HostDeployment keeps it in its state): as a closure (the in-process provider)
 * and as the shim over the prebuilt bundle (hosts/bundledProvider.ts). Each measurement runs in
 * a process of its own, the two kinds taking turns, because the SDK caches what it serialized.
 *
 *     npm run build && node dist/bench/providerSerialization.js [ROUNDS]
 */
import { spawnSync } from "node:child_process";

type Kind = "closure" | "bundle";

/** One measurement, in this process: the SDK's first serialization (its warm-up, which any program pays once), then the provider's. */
async function measure(kind: Kind): Promise<void> {
  const pulumi = await import("@pulumi/pulumi");
  const started = process.hrtime.bigint();
  await pulumi.runtime.serializeFunction(() => 1, { allowSecrets: true });
  const warmedUp = process.hrtime.bigint();
  const provider =
    kind === "bundle"
      ? (await import("../hosts/HostDeployment")).hostDeploymentProvider
      : (await import("../deploy/hostDeploymentProvider")).hostDeploymentProvider;
  if (kind === "bundle" && provider === (await import("../deploy/hostDeploymentProvider")).hostDeploymentProvider) {
    throw new Error("the provider bundle is missing or older than its sources: run npm run build first");
  }
  const loaded = process.hrtime.bigint();
  const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  const done = process.hrtime.bigint();
  process.stdout.write(JSON.stringify({ warmUpMs: Number(warmedUp - started) / 1e6, serializeMs: Number(done - loaded) / 1e6, chars: text.length }) + "\n");
}

function main(): void {
  const rounds = Number(process.argv[2] ?? 3);
  const rows: Record<Kind, { warmUpMs: number; serializeMs: number; chars: number }[]> = { closure: [], bundle: [] };
  for (let round = 0; round < rounds; round++) {
    const order: Kind[] = round % 2 === 0 ? ["closure", "bundle"] : ["bundle", "closure"];
    for (const kind of order) {
      const run = spawnSync(process.execPath, [__filename, "--measure", kind], { encoding: "utf8" });
      if (run.status !== 0) throw new Error(`measuring ${kind} failed: ${run.stderr}`);
      rows[kind].push(JSON.parse(run.stdout.trim().split("\n").pop()!));
    }
  }
  const ms = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
  process.stdout.write("| provider | serialize (ms, each round) | SDK warm-up (ms) | size (characters) |\n|---|---|---|---|\n");
  for (const kind of ["closure", "bundle"] as const) {
    const r = rows[kind];
    process.stdout.write(`| ${kind} | ${ms(r.map((x) => x.serializeMs))} | ${ms(r.map((x) => x.warmUpMs))} | ${r[0].chars} |\n`);
  }
}

if (process.argv[2] === "--measure") {
  measure(process.argv[3] as Kind).catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
    process.exit(1);
  });
} else {
  main();
}
