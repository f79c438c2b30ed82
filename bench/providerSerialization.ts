/**
 * What a run pays for the host deployment's dynamic provider code, and how large it is (every
 * HostDeployment keeps it in its state): serialized by the SDK as a closure (the in-process
 * provider, where the build's files are stale), serialized as the shim over the bundle (what the
 * build does once), and read as the build left it (hosts/prebuiltProvider.ts, what a run does).
 * Each measurement runs in a process of its own, the kinds taking turns, because the SDK caches
 * what it serialized.
 *
 *     npm run bench:providers [-- ROUNDS]      (builds, then node dist/bench/providerSerialization.js)
 */
import { spawnSync } from "node:child_process";

type Kind = "closure" | "bundle" | "prebuilt";
const KINDS: readonly Kind[] = ["closure", "bundle", "prebuilt"];

/** One measurement, in this process: the SDK's first serialization (its warm-up, which any program pays once), then the provider's. */
async function measure(kind: Kind): Promise<void> {
  const pulumi = await import("@pulumi/pulumi");
  const started = process.hrtime.bigint();
  // A run that reads the prebuilt text never serializes anything.
  if (kind !== "prebuilt") await pulumi.runtime.serializeFunction(() => 1, { allowSecrets: true });
  const warmedUp = process.hrtime.bigint();
  const { hostDeploymentProvider } = await import("../deploy/hostDeploymentProvider");
  const { prebuiltProvider, prebuiltProviderFiles, providerFromBundle, freshBuildOutput } = await import("../hosts/prebuiltProvider");
  const files = prebuiltProviderFiles("hostDeploymentProvider");
  const bundle = freshBuildOutput(files.bundle, files.stamp);
  if (bundle === undefined) throw new Error("the provider bundle is missing or older than its sources: run npm run build first");
  const methods = Object.keys(hostDeploymentProvider) as (keyof typeof hostDeploymentProvider)[];
  const provider = kind === "bundle" ? providerFromBundle(bundle, "hostDeploymentProvider", methods) : hostDeploymentProvider;
  const loaded = process.hrtime.bigint();
  const text = kind === "prebuilt" ? prebuiltProvider("hostDeploymentProvider", hostDeploymentProvider).serialized! : (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text;
  const done = process.hrtime.bigint();
  process.stdout.write(JSON.stringify({ warmUpMs: kind === "prebuilt" ? 0 : Number(warmedUp - started) / 1e6, serializeMs: Number(done - loaded) / 1e6, chars: text.length }) + "\n");
}

function main(): void {
  const rounds = Number(process.argv[2] ?? 3);
  const rows: Record<Kind, { warmUpMs: number; serializeMs: number; chars: number }[]> = { closure: [], bundle: [], prebuilt: [] };
  for (let round = 0; round < rounds; round++) {
    const order = KINDS.map((_, i) => KINDS[(i + round) % KINDS.length]);
    for (const kind of order) {
      const run = spawnSync(process.execPath, [__filename, "--measure", kind], { encoding: "utf8" });
      if (run.status !== 0) throw new Error(`measuring ${kind} failed: ${run.stderr}`);
      rows[kind].push(JSON.parse(run.stdout.trim().split("\n").pop()!));
    }
  }
  const ms = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
  process.stdout.write("| provider | serialize or read (ms, each round) | SDK warm-up (ms) | size (characters) |\n|---|---|---|---|\n");
  for (const kind of KINDS) {
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
