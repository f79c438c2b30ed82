/**
 * The host-deployment resource's provider, serialized as Pulumi serializes it and run in its own
 * Node process, against a real host: create, a no-op diff, drift seen by read and repaired by
 * update, secrets kept out of the non-secret outputs, delete. This is what `pulumi up`,
 * `pulumi preview --refresh` and `pulumi destroy` call (the Pulumi CLI cannot run here).
 */
import { readFileSync, rmSync } from "node:fs";
import type { HostDeploymentInputs } from "../deploy/hostDeploymentProvider";
import { CANARY, fleet, secretsOf, type StackChange } from "./support/fleet";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { callProvider, serializeProvider } from "./support/serializedProvider";

let host: TestHost;
let provider: { file: string; text: string };

function inputsFor(change?: StackChange): Omit<HostDeploymentInputs, "fileHashes" | "secretsInSync"> {
  const bundle = fleet(host, change).bundles[0];
  return {
    host: host.name,
    connection: { address: host.address, port: 22, user: "root", hostKey: host.hostKey },
    privateKey: readFileSync(host.keyFile, "utf8"),
    files: Object.fromEntries(bundle.files.map((f) => [f.path, f.content])),
    manifest: bundle.manifest,
    secrets: secretsOf(bundle),
    options: { confirmAfterSec: 60, healthTimeoutSec: 120, keepGenerations: 3 },
  };
}

/** The outputs a user sees without --show-secrets: everything but the secret properties. */
function nonSecret(outs: Record<string, unknown>): string {
  const { privateKey: _key, secrets: _secrets, ...rest } = outs;
  return JSON.stringify(rest);
}

beforeAll(async () => {
  host = bootHost("e2e2", 12);
  provider = await serializeProvider();
});

afterAll(() => {
  stopHost("e2e2");
  rmSync(provider.file, { force: true });
});

describe("the serialized host-deployment provider", () => {
  let state: Record<string, any>;

  it("holds no secret in its serialized code", () => {
    expect(provider.text).not.toContain(CANARY);
    expect(provider.text).not.toContain("PRIVATE KEY");
  });

  it("check + create: deploys, healthy, with outputs that keep the canary secret out", async () => {
    const checked = await callProvider(provider.file, "check", {}, inputsFor());
    expect(checked.error).toBeUndefined();
    const created = await callProvider(provider.file, "create", checked.result.inputs);
    expect(created.error).toBeUndefined();
    expect(created.result.id).toBe("e2e2");
    state = created.result.outs;
    expect(state).toMatchObject({ generation: 1, manifestSha256: checked.result.inputs.manifest.sha256, health: { verdict: "healthy" } });
    expect(state.unitStates["podman-proxy.service"]).toBe("active");
    expect(nonSecret(state)).not.toContain(CANARY);
    expect(JSON.stringify(state.secrets)).toContain(CANARY); // only inside the secret property
    expect(created.stderr).not.toContain(CANARY);
  });

  it("diff of the same program: no changes", async () => {
    const news = (await callProvider(provider.file, "check", state, inputsFor())).result.inputs;
    const diff = await callProvider(provider.file, "diff", "e2e2", state, news);
    expect(diff.result).toEqual({ changes: false });
  });

  it("refresh sees a hand edit and a deleted file per file; update repairs them", async () => {
    onHost(host, "echo '# hand edit' >> /etc/homefleet/proxy/redis.conf && rm /etc/systemd/system/homefleet-backup-config.timer");
    const read = await callProvider(provider.file, "read", "e2e2", state);
    expect(read.error).toBeUndefined();
    const refreshed = read.result.props;
    const drift = Object.entries(refreshed.fileHashes as Record<string, string>).filter(([p, h]) => state.fileHashes[p] !== h);
    expect(drift.map(([p, h]) => [p, h === "missing" ? "missing" : "edited"]).sort()).toEqual([
      ["/etc/homefleet/proxy/redis.conf", "edited"],
      ["/etc/systemd/system/homefleet-backup-config.timer", "missing"],
    ]);
    const news = (await callProvider(provider.file, "check", refreshed, inputsFor())).result.inputs;
    expect((await callProvider(provider.file, "diff", "e2e2", refreshed, news)).result).toEqual({ changes: true });

    const updated = await callProvider(provider.file, "update", "e2e2", refreshed, news);
    expect(updated.error).toBeUndefined();
    state = updated.result.outs;
    expect(state.generation).toBe(1); // the same program: generation 1 switched to again, repaired
    const again = (await callProvider(provider.file, "read", "e2e2", state)).result.props;
    expect((await callProvider(provider.file, "diff", "e2e2", again, news)).result).toEqual({ changes: false });
  });

  it("refresh sees a secret file changed by hand without printing it", async () => {
    onHost(host, "echo tampered > /var/lib/homefleet/secrets/proxy/cache-password");
    const read = await callProvider(provider.file, "read", "e2e2", state);
    expect(read.result.props.secretsInSync).toBe(false);
    expect(nonSecret(read.result.props)).not.toContain("tampered");
    const news = (await callProvider(provider.file, "check", read.result.props, inputsFor())).result.inputs;
    const updated = await callProvider(provider.file, "update", "e2e2", read.result.props, news);
    expect(updated.error).toBeUndefined();
    expect(updated.result.outs.lastDeploy.secretsWritten).toEqual(["/var/lib/homefleet/secrets/proxy/cache-password"]);
    state = updated.result.outs;
  });

  it("a failing update names the host and check, and the host keeps serving the old generation", async () => {
    const broken = inputsFor((s) => (s.container.healthCheck = { path: "/no-such-endpoint", timeoutSec: 10, intervalSec: 1 }));
    const news = (await callProvider(provider.file, "check", state, { ...broken, options: { ...broken.options, healthTimeoutSec: 20 } })).result.inputs;
    const updated = await callProvider(provider.file, "update", "e2e2", state, news);
    expect(updated.error).toMatch(/^host e2e2: generation 2 failed its health check/);
    expect(updated.error).toContain(`rolled back to generation ${state.generation}, which is healthy`);
    expect(updated.error).not.toContain(CANARY);
    const read = (await callProvider(provider.file, "read", "e2e2", state)).result.props;
    expect(read.generation).toBe(state.generation);
  });

  it("delete removes homefleet's units and files and keeps the data", async () => {
    const deleted = await callProvider(provider.file, "delete", "e2e2", state);
    expect(deleted.error).toBeUndefined();
    expect(onHost(host, "test -e /etc/systemd/system/podman-proxy.service; echo $?").stdout.trim()).toBe("1");
    expect(onHost(host, "systemctl is-active podman-proxy.service").stdout).not.toMatch(/^active$/m);
    expect(onHost(host, "test -d /var/lib/postgresql && echo kept").stdout.trim()).toBe("kept");
  });
});
