/**
 * The host-deployment provider's pure parts: what check adds, what diff calls a change, and the
 * rollout-wave guard that refuses to deploy after an unhealthy earlier wave (before any SSH).
 */
import type { DeployResult } from "../deploy/deployHost";
import { checkInputs, createDeployment, diffInputs, expectedOf, outputsOf, type HostDeploymentInputs, type HostDeploymentOutputs } from "../deploy/hostDeploymentProvider";
import { forgeBundle as bundle, forgeDeploymentInputs } from "./support/forgeDeployment";

function inputs(overrides: Partial<HostDeploymentInputs> = {}): HostDeploymentInputs {
  return checkInputs(forgeDeploymentInputs(overrides));
}

it("check adds the expected hash of every file and secrets in sync", () => {
  const checked = inputs();
  expect(Object.keys(checked.fileHashes).sort()).toEqual(bundle.manifest.files.map((f) => f.path).sort());
  expect(checked.secretsInSync).toBe(true);
});

it("check refuses a file whose content does not match its manifest hash", () => {
  const files = { ...inputs().files, [bundle.manifest.files[0].path]: "tampered" };
  expect(() => inputs({ files })).toThrow(`host forge: ${bundle.manifest.files[0].path} does not match its manifest hash`);
});

describe("diff", () => {
  const state = { ...inputs(), generation: 3, manifestSha256: bundle.manifest.sha256, unitStates: {}, health: { verdict: "healthy", checkedAt: "", checks: [] }, lastDeploy: null } as HostDeploymentOutputs;

  it("sees no change for the same program and host", () => {
    expect(diffInputs(state, inputs())).toEqual([]);
  });

  it("sees a file drifted on the host (after a refresh)", () => {
    const path = bundle.manifest.files[0].path;
    expect(diffInputs({ ...state, fileHashes: { ...state.fileHashes, [path]: "missing" } }, inputs())).toEqual(["fileHashes"]);
  });

  it("sees a secret changed by hand on the host, a rotated secret, and a host that rolled itself back", () => {
    expect(diffInputs({ ...state, secretsInSync: false }, inputs())).toEqual(["secretsInSync"]);
    expect(diffInputs(state, inputs({ secrets: [{ ...inputs().secrets[0], content: "rotated" }] }))).toEqual(["secrets"]);
    expect(diffInputs({ ...state, manifestSha256: "0".repeat(64) }, inputs())).toEqual(["manifestSha256"]);
  });

  it("sees a new address or host key in config (a re-keyed host accepted): the state must carry it for the next refresh", () => {
    expect(diffInputs(state, inputs({ connection: { address: "10.231.250.9", port: 22, user: "root", hostKey: "ssh-ed25519 AAAAnew" } }))).toEqual(["connection"]);
  });

  it("ignores the wave inputs (verdicts of earlier hosts change nothing on this one)", () => {
    expect(diffInputs(state, inputs({ after: [{ host: "vulcan", wave: 0, verdict: "healthy" }] }))).toEqual([]);
  });
});

it("refuses to deploy after an unhealthy earlier wave, naming the hosts", async () => {
  await expect(createDeployment(inputs({ after: [{ host: "vulcan", wave: 0, verdict: "unhealthy" }] }))).rejects.toThrow(
    "host forge: not deployed, because earlier rollout waves are not healthy: vulcan (wave 0: unhealthy)",
  );
});

it("the outputs keep everything but the files' contents: the inputs hold those, the hashes say what the host has", () => {
  const checked = inputs();
  const result: DeployResult = {
    host: "forge",
    generation: 4,
    manifestSha256: bundle.manifest.sha256,
    changed: true,
    uploadedFiles: [bundle.manifest.files[0].path],
    reusedGeneration: false,
    secretsWritten: [],
    restarted: ["redis-proxy.service"],
    bytesSent: 1234,
    sshConnections: 1,
    commands: 2,
    health: { verdict: "healthy", checkedAt: "2026-12-02T00:00:00Z", checks: [] },
    unitStates: { "redis-proxy.service": "active" },
    hostKey: "ssh-ed25519 AAAAforge",
  };
  const outs = outputsOf(checked, result);
  expect(Object.keys(checked.files).length).toBeGreaterThan(5);
  expect("files" in outs).toBe(false);
  const { files: _contents, ...rest } = checked;
  expect(outs).toMatchObject({ ...rest, generation: 4, manifestSha256: bundle.manifest.sha256, hostKey: "ssh-ed25519 AAAAforge" });
  expect(outs.lastDeploy).toEqual({ uploadedFiles: [bundle.manifest.files[0].path], restarted: ["redis-proxy.service"], secretsWritten: [], bytesSent: 1234, changed: true });
  // The next preview of the same program finds nothing to do, and expectedOf still reads the manifest.
  expect(diffInputs(outs, checked)).toEqual([]);
  expect(expectedOf(outs)).toEqual({ generation: 4, manifest: bundle.manifest });
  // Not one file's content, short or long, is left anywhere in the outputs.
  const text = JSON.stringify(outs);
  expect(Object.values(checked.files).filter((content) => content.length > 40 && text.includes(JSON.stringify(content).slice(1, -1)))).toEqual([]);
});

describe("what the state says the host runs (the deployment's records, expectedOf)", () => {
  const outputs = (overrides: Partial<HostDeploymentOutputs> = {}): HostDeploymentOutputs => ({
    ...inputs(),
    generation: 7,
    manifestSha256: bundle.manifest.sha256,
    unitStates: {},
    health: { verdict: "healthy", checkedAt: "2026-11-30T00:00:00Z", checks: [] },
    lastDeploy: null,
    ...overrides,
  });

  it("the confirmed generation and its manifest after a deployment (or a refresh that found them)", () => {
    expect(expectedOf(outputs())).toEqual({ generation: 7, manifest: bundle.manifest });
  });

  it("none when a refresh found another manifest, an unconfirmed generation or nothing installed", () => {
    expect(expectedOf(outputs({ manifestSha256: "f".repeat(64) }))).toBeUndefined();
    expect(expectedOf(outputs({ health: { verdict: "unconfirmed", checkedAt: "2026-11-30T00:00:00Z", checks: [] } }))).toBeUndefined();
    expect(expectedOf(outputs({ generation: null, manifestSha256: null }))).toBeUndefined();
    expect(expectedOf(undefined)).toBeUndefined();
  });
});
