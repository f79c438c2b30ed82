/**
 * The dynamic providers as the engine runs them from a prebuilt bundle (hosts/bundledProvider.ts):
 * serialized by the SDK as it stores them in the state, loaded as the engine's provider process
 * loads them, they answer as the in-process providers do; a bundle older than any of its sources
 * is not used.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { checkInputs, hostDeploymentProvider as inProcessDeployment, type HostDeploymentOutputs } from "../deploy/hostDeploymentProvider";
import { hostPackagesProvider as inProcessPackages } from "../deploy/hostPackagesProvider";
import { bundledProvider, freshBundleText, providerBundleFiles, providerFromBundle } from "../hosts/bundledProvider";
import { forgeBundle as forge, forgeDeploymentInputs } from "./support/forgeDeployment";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildProviderBundles } = require("../bin/build-provider-bundles.js") as { buildProviderBundles(outDir: string): Promise<string[]> };
// What the engine's provider process loads a serialized provider with (a dependency of @pulumi/pulumi).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => { handler(): pulumi.dynamic.ResourceProvider };

type Provider = pulumi.dynamic.ResourceProvider;

const work = mkdtempSync(join(tmpdir(), "homefleet-provider-bundle-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bundles: Record<string, string> = {};
beforeAll(async () => {
  const { readFileSync } = await import("node:fs");
  for (const file of await buildProviderBundles(join(work, "built"))) bundles[file.replace(/^.*\/|\.js$/g, "")] = readFileSync(file, "utf8");
}, 60_000);

/** The provider as the engine gets it: serialized into a string, then required from that string. */
async function asTheEngineRunsIt(provider: Provider): Promise<{ provider: Provider; serialized: string }> {
  const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  return { provider: requireFromString(text).handler(), serialized: text };
}

const news = forgeDeploymentInputs();

/** A method's answer, or the message it failed with. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { answer: await run() };
  } catch (err) {
    return { failed: (err as Error).message };
  }
}

describe("the host-deployment provider run from its bundle", () => {
  let engine: { provider: Provider; serialized: string };
  beforeAll(async () => {
    engine = await asTheEngineRunsIt(providerFromBundle(bundles.hostDeploymentProvider, "hostDeploymentProvider", Object.keys(inProcessDeployment) as (keyof Provider)[]));
  });

  it("is stored as the bundle's text and a few small functions, naming no path of this checkout", () => {
    expect(engine.serialized.length).toBeLessThan(JSON.stringify(bundles.hostDeploymentProvider).length + 4000);
    expect(engine.serialized).not.toContain(join(__dirname, ".."));
  });

  it("checks inputs as the in-process provider does: adds the hashes, refuses a tampered file and a refused promotion", async () => {
    const tampered = { ...news, files: { ...news.files, [forge.manifest.files[0].path]: "tampered" } };
    const refused = { ...news, promotion: { from: "staging", refused: true, message: "staging is not healthy" } };
    for (const input of [news, tampered, refused]) {
      const bundled = await outcome(() => engine.provider.check!({}, input));
      expect(bundled).toEqual(await outcome(() => inProcessDeployment.check!({}, input)));
    }
    expect(await outcome(() => engine.provider.check!({}, tampered))).toEqual({ failed: `host forge: ${forge.manifest.files[0].path} does not match its manifest hash` });
  });

  it("diffs as the in-process provider does: no change, a drifted file, a rolled-back host", async () => {
    const checked = checkInputs(news);
    const state = { ...checked, generation: 3, manifestSha256: forge.manifest.sha256, unitStates: {}, health: { verdict: "healthy", checkedAt: "", checks: [] }, lastDeploy: null } as HostDeploymentOutputs;
    const drifted = { ...state, fileHashes: { ...state.fileHashes, [forge.manifest.files[0].path]: "missing" } };
    const rolledBack = { ...state, manifestSha256: "0".repeat(64) };
    const answers = [];
    for (const olds of [state, drifted, rolledBack]) {
      const bundled = await engine.provider.diff!("forge", olds, checked);
      expect(bundled).toEqual(await inProcessDeployment.diff!("forge", olds, checked));
      answers.push(bundled.changes);
    }
    expect(answers).toEqual([false, true, true]);
  });
});

it("the host-packages provider run from its bundle refuses what the in-process one refuses", async () => {
  const { provider } = await asTheEngineRunsIt(providerFromBundle(bundles.hostPackagesProvider, "hostPackagesProvider", Object.keys(inProcessPackages) as (keyof Provider)[]));
  const connection = { host: "box", connection: { address: "10.0.0.2", port: 22, user: "root" }, privateKey: "unused" };
  for (const packages of [["restic", "jq", "jq"], ["jq; rm -rf /"]]) {
    const input = { ...connection, packages };
    expect(await outcome(() => provider.check!({}, input))).toEqual(await outcome(() => inProcessPackages.check!({}, input)));
  }
  expect(await outcome(() => provider.check!({}, { ...connection, packages: ["jq; rm -rf /"] }))).toEqual({ failed: 'host box: "jq; rm -rf /" is not a Debian package name' });
});

it("the in-process host-deployment provider, serialized as a closure where the bundle is stale, checks inputs as it does in process", async () => {
  const { provider } = await asTheEngineRunsIt(inProcessDeployment);
  const tampered = { ...news, files: { ...news.files, [forge.manifest.files[0].path]: "tampered" } };
  for (const input of [news, tampered]) {
    expect(await outcome(() => provider.check!({}, input))).toEqual(await outcome(() => inProcessDeployment.check!({}, input)));
  }
}, 30_000);

describe("a bundle is used only while it is newer than every source it was built from", () => {
  const root = join(work, "checkout");
  const { code, stamp } = providerBundleFiles("exampleProvider", root);
  const past = new Date("2026-01-01T00:00:00Z");
  const built = new Date("2026-02-01T00:00:00Z");
  const later = new Date("2026-03-01T00:00:00Z");
  const inProcess: Provider = { async create() { return { id: "in-process" }; }, async diff() { return { changes: false }; } };

  beforeEach(() => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, "dist", "providers"), { recursive: true });
    mkdirSync(join(root, "deploy"));
    writeFileSync(join(root, "deploy", "example.ts"), "// the source\n");
    utimesSync(join(root, "deploy", "example.ts"), past, past);
    writeFileSync(stamp, JSON.stringify({ inputs: ["deploy/example.ts"] }));
    writeFileSync(code, 'module.exports.exampleProvider = { async create() { return { id: "bundled" }; }, async diff() { return { changes: true }; } };');
    utimesSync(code, built, built);
  });

  it("a fresh bundle: the provider runs the bundle's code, with the in-process provider's methods", async () => {
    expect(freshBundleText("exampleProvider", root)).toContain("bundled");
    const provider = bundledProvider("exampleProvider", inProcess, root);
    expect(provider).not.toBe(inProcess);
    expect(Object.keys(provider).sort()).toEqual(["create", "diff"]);
    expect(await provider.create({})).toEqual({ id: "bundled" });
  });

  it("a source edited since the build, a source gone, or no stamp: the in-process provider", () => {
    utimesSync(join(root, "deploy", "example.ts"), later, later);
    expect(freshBundleText("exampleProvider", root)).toBeUndefined();
    expect(bundledProvider("exampleProvider", inProcess, root)).toBe(inProcess);
    rmSync(join(root, "deploy", "example.ts"));
    expect(freshBundleText("exampleProvider", root)).toBeUndefined();
    writeFileSync(join(root, "deploy", "example.ts"), "// the source\n");
    utimesSync(join(root, "deploy", "example.ts"), past, past);
    expect(freshBundleText("exampleProvider", root)).toContain("bundled");
    rmSync(stamp);
    expect(bundledProvider("exampleProvider", inProcess, root)).toBe(inProcess);
  });
});
