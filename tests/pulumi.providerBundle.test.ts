/**
 * The dynamic providers as the build serializes them (hosts/prebuiltProvider.ts): loaded from that
 * text as the engine's provider process loads a provider from the state, they answer as the
 * in-process providers do; a build output older than any of its sources is not used.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import * as pulumi from "@pulumi/pulumi";
import * as activateModule from "../render/scripts/activate";
import { checkInputs, hostDeploymentProvider as inProcessDeployment, type HostDeploymentOutputs } from "../deploy/hostDeploymentProvider";
import { hostPackagesProvider as inProcessPackages } from "../deploy/hostPackagesProvider";
import { generatedSecretProvider } from "../components/GeneratedSecret";
import { prebuiltProvider, prebuiltProviderFiles } from "../hosts/prebuiltProvider";
import { asTheEngineLoads } from "./support/engineLoad";
import { forgeBundle as forge, forgeDeploymentInputs } from "./support/forgeDeployment";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildProviderBundles } = require("../bin/build-provider-bundles.js") as { buildProviderBundles(outDir: string): Promise<string[]> };

type Provider = pulumi.dynamic.ResourceProvider;

const work = mkdtempSync(join(tmpdir(), "homefleet-provider-bundle-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What the build wrote for each provider: its serialized text, and its bundle where it has one. */
const built: Record<string, { serialized: string; bundle?: string }> = {};
beforeAll(async () => {
  const outDir = join(work, "built");
  for (const name of await buildProviderBundles(outDir)) {
    const bundle = join(outDir, `${name}.js`);
    built[name] = { serialized: readFileSync(join(outDir, `${name}.serialized.js`), "utf8"), bundle: existsSync(bundle) ? readFileSync(bundle, "utf8") : undefined };
  }
}, 60_000);

/** The provider as pulumi.dynamic.Resource serializes it during a run, loaded as the engine loads it. */
async function asTheEngineRunsIt(provider: Provider): Promise<Provider> {
  const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  return asTheEngineLoads(text);
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

describe("the host-deployment provider as the build serialized it", () => {
  const engine: { provider: Provider } = { provider: {} as Provider };
  beforeAll(() => {
    engine.provider = asTheEngineLoads(built.hostDeploymentProvider.serialized);
  });

  it("is the bundle's text and a few small functions, naming no path of this checkout", () => {
    const { serialized, bundle } = built.hostDeploymentProvider;
    expect(serialized).toContain(JSON.stringify(bundle));
    expect(serialized.length).toBeLessThan(JSON.stringify(bundle).length + 4000);
    expect(serialized).not.toContain(join(__dirname, ".."));
  });

  it("carries homefleet-activate gzipped, byte for byte as the source tree has it (the state holds the text twice a host)", () => {
    const { bundle } = built.hostDeploymentProvider;
    const carried = [...bundle!.matchAll(/gunzipSync\(Buffer\.from\("([A-Za-z0-9+/=]+)", "base64"\)\)/g)].map((m) => JSON.parse(gunzipSync(Buffer.from(m[1], "base64")).toString("utf8")));
    expect(carried).toContainEqual(JSON.parse(JSON.stringify({ ...activateModule })));
    expect(activateModule.activateScript.text.length).toBeGreaterThan(20_000);
    // Not as text too.
    expect(bundle).not.toContain(JSON.stringify(activateModule.activateScript.text).slice(1, 2000));
    expect(built.hostDeploymentProvider.serialized.length).toBeLessThan(activateModule.activateScript.text.length * 2);
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

it("the host-packages provider as the build serialized it refuses what the in-process one refuses", async () => {
  const provider = asTheEngineLoads(built.hostPackagesProvider.serialized);
  const connection = { host: "box", connection: { address: "10.0.0.2", port: 22, user: "root" }, privateKey: "unused" };
  for (const packages of [["restic", "jq", "jq"], ["jq; rm -rf /"]]) {
    const input = { ...connection, packages };
    expect(await outcome(() => provider.check!({}, input))).toEqual(await outcome(() => inProcessPackages.check!({}, input)));
  }
  expect(await outcome(() => provider.check!({}, { ...connection, packages: ["jq; rm -rf /"] }))).toEqual({ failed: 'host box: "jq; rm -rf /" is not a Debian package name' });
});

it("the generated-secret provider as the build serialized it creates a fresh secret of the length asked for", async () => {
  const provider = asTheEngineLoads(built.generatedSecretProvider.serialized);
  const first = await provider.create({ length: 40 });
  const second = await provider.create({ length: 40 });
  expect(first.outs.result).toMatch(/^[A-Za-z0-9]{40}$/);
  expect(second.outs.result).not.toBe(first.outs.result);
  expect(await provider.diff!("id", { length: 32 }, { length: 48 })).toEqual(await generatedSecretProvider.diff!("id", { length: 32, result: "x" }, { length: 48 }));
});

it("the in-process host-deployment provider, serialized as a closure where the build's is stale, checks inputs as it does in process", async () => {
  const provider = await asTheEngineRunsIt(inProcessDeployment);
  const tampered = { ...news, files: { ...news.files, [forge.manifest.files[0].path]: "tampered" } };
  for (const input of [news, tampered]) {
    expect(await outcome(() => provider.check!({}, input))).toEqual(await outcome(() => inProcessDeployment.check!({}, input)));
  }
}, 30_000);

describe("the build's serialization is used only while it is newer than every source it was built from", () => {
  const root = join(work, "checkout");
  const { serialized, stamp } = prebuiltProviderFiles("exampleProvider", root);
  const past = new Date("2026-01-01T00:00:00Z");
  const builtAt = new Date("2026-02-01T00:00:00Z");
  const later = new Date("2026-03-01T00:00:00Z");
  const inProcess: Provider = { async create() { return { id: "in-process" }; } };

  beforeEach(() => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, "dist", "providers"), { recursive: true });
    mkdirSync(join(root, "deploy"));
    writeFileSync(join(root, "deploy", "example.ts"), "// the source\n");
    utimesSync(join(root, "deploy", "example.ts"), past, past);
    writeFileSync(stamp, JSON.stringify({ inputs: ["deploy/example.ts"] }));
    writeFileSync(serialized, 'exports.handler = () => ({ async create() { return { id: "prebuilt" }; } });');
    utimesSync(serialized, builtAt, builtAt);
  });

  it("fresh: the resource hands the engine the build's text, which runs the build's code", async () => {
    const provider = prebuiltProvider("exampleProvider", inProcess, root);
    expect(provider.provider).toBe(inProcess);
    expect(await asTheEngineLoads(provider.serialized!).create({})).toEqual({ id: "prebuilt" });
  });

  it("a source edited since the build, a source gone, or no stamp: nothing prebuilt (the SDK serializes the in-process provider)", () => {
    utimesSync(join(root, "deploy", "example.ts"), later, later);
    expect(prebuiltProvider("exampleProvider", inProcess, root)).toEqual({ provider: inProcess });
    rmSync(join(root, "deploy", "example.ts"));
    expect(prebuiltProvider("exampleProvider", inProcess, root).serialized).toBeUndefined();
    writeFileSync(join(root, "deploy", "example.ts"), "// the source\n");
    utimesSync(join(root, "deploy", "example.ts"), past, past);
    expect(prebuiltProvider("exampleProvider", inProcess, root).serialized).toContain("prebuilt");
    rmSync(stamp);
    expect(prebuiltProvider("exampleProvider", inProcess, root).serialized).toBeUndefined();
  });
});
