/**
 * The deployer's decisions, one case per situation a host can be in: what the host reports
 * (phase, current and confirmed generation, kept generations, files on disk) and what the
 * program wants decide between nothing, confirming, repairing, reusing and uploading.
 */
import type { HostManifest } from "../bundle/hostBundle";
import { planDeployment, type HostState, type WantedGeneration } from "../deploy/plan";

function manifest(sha: string, files: Record<string, string>): HostManifest {
  return {
    os: "systemd",
    arch: "x86_64",
    files: Object.entries(files).map(([path, sha256]) => ({ path, mode: "0644", sha256, size: 1 })),
    secretFiles: [],
    units: [],
    start: [],
    disabledUnits: [],
    packages: [],
    healthChecks: [],
    interfaces: [],
    images: [],
    sha256: sha,
  };
}

const A = manifest("mA", { "/etc/a.conf": "a1", "/etc/b.conf": "b1" });
const B = manifest("mB", { "/etc/a.conf": "a2", "/etc/b.conf": "b1" });
const secret = { path: "/var/lib/homefleet/secrets/app/password", mode: "0400", owner: "root", group: "root", sha256: "p1" };
const wantA: WantedGeneration = { manifest: A, secrets: [secret], secretsDigest: "s1" };
const wantB: WantedGeneration = { manifest: B, secrets: [secret], secretsDigest: "s1" };

/** A host on generation `current` holding manifest A, with everything on disk as it should be. */
function hostOn(over: Partial<HostState> = {}): HostState {
  return {
    phase: "confirmed",
    current: 1,
    confirmed: 1,
    manifest: A,
    files: { "/etc/a.conf": "a1", "/etc/b.conf": "b1" },
    secrets: { [secret.path]: "p1" },
    generations: { "1": { manifest: "mA", secrets: "s1" } },
    armed: false,
    holder: null,
    ...over,
  };
}

const fresh: HostState = { phase: "confirmed", current: null, confirmed: null, manifest: null, files: {}, secrets: {}, generations: {}, armed: false, holder: null };

describe("the deployment plan", () => {
  it("a first deployment uploads everything as generation 1, and a failure goes back to nothing", () => {
    expect(planDeployment(fresh, wantA)).toEqual({ kind: "switch", generation: 1, prepare: { files: ["/etc/a.conf", "/etc/b.conf"], secrets: [secret.path] }, reused: false, repair: false, rollbackTo: null });
  });

  it("the same config on a confirmed host with nothing changed on disk does nothing", () => {
    expect(planDeployment(hostOn(), wantA)).toEqual({ kind: "noop", generation: 1 });
  });

  it("a hand edit is repaired by installing the confirmed generation again, with no timer", () => {
    expect(planDeployment(hostOn({ files: { "/etc/a.conf": "edited", "/etc/b.conf": "b1" } }), wantA)).toEqual({ kind: "switch", generation: 1, reused: false, repair: true, rollbackTo: 1 });
    expect(planDeployment(hostOn({ secrets: { [secret.path]: "missing" } }), wantA)).toMatchObject({ kind: "switch", generation: 1, repair: true });
  });

  it("a changed file uploads only that file, into a new generation that goes back to the confirmed one", () => {
    expect(planDeployment(hostOn(), wantB)).toEqual({ kind: "switch", generation: 2, prepare: { files: ["/etc/a.conf"], secrets: [] }, reused: false, repair: false, rollbackTo: 1 });
  });

  it("a changed secret alone is a new generation carrying it (a rollback restores the old value)", () => {
    const rotated = { ...secret, sha256: "p2" };
    expect(planDeployment(hostOn(), { manifest: A, secrets: [rotated], secretsDigest: "s2" })).toEqual({ kind: "switch", generation: 2, prepare: { files: [], secrets: [secret.path] }, reused: false, repair: false, rollbackTo: 1 });
  });

  it("going back to a config a kept generation holds reuses it without uploading", () => {
    const host = hostOn({ current: 2, confirmed: 2, manifest: B, files: { "/etc/a.conf": "a2", "/etc/b.conf": "b1" }, generations: { "1": { manifest: "mA", secrets: "s1" }, "2": { manifest: "mB", secrets: "s1" } } });
    expect(planDeployment(host, wantA)).toEqual({ kind: "switch", generation: 1, reused: true, repair: false, rollbackTo: 2 });
  });

  it("a kept generation with the same files but other secrets is not reused", () => {
    const host = hostOn({ current: 2, confirmed: 2, manifest: B, generations: { "1": { manifest: "mA", secrets: "old" }, "2": { manifest: "mB", secrets: "s1" } } });
    expect(planDeployment(host, wantA)).toMatchObject({ kind: "switch", generation: 3, reused: false });
  });

  it("an armed generation that is what the program wants is judged now: gate and confirm (taking over from the timer)", () => {
    const host = hostOn({ phase: "armed", current: 2, confirmed: 1, generations: { "1": { manifest: "mB", secrets: "s1" }, "2": { manifest: "mA", secrets: "s1" } }, armed: true });
    expect(planDeployment(host, wantA)).toEqual({ kind: "confirm", generation: 2, rollbackTo: 1 });
  });

  it("an armed generation the program no longer wants is replaced, and a failure still goes back to the confirmed one", () => {
    const host = hostOn({ phase: "armed", current: 2, confirmed: 1, generations: { "1": { manifest: "mA", secrets: "s1" }, "2": { manifest: "mX", secrets: "s1" } }, manifest: manifest("mX", { "/etc/a.conf": "x" }) });
    expect(planDeployment(host, wantB)).toEqual({ kind: "switch", generation: 3, prepare: { files: ["/etc/a.conf", "/etc/b.conf"], secrets: [] }, reused: false, repair: false, rollbackTo: 1 });
    // Back to the confirmed config: its generation is switched to again, under a fresh timer.
    expect(planDeployment(host, wantA)).toEqual({ kind: "switch", generation: 1, reused: true, repair: false, rollbackTo: 1 });
  });

  it("a switch cut off halfway (phase switching) is installed again under a fresh timer, never confirmed as is", () => {
    const host = hostOn({ phase: "switching", current: 2, confirmed: 1, generations: { "1": { manifest: "mB", secrets: "s1" }, "2": { manifest: "mA", secrets: "s1" } } });
    expect(planDeployment(host, wantA)).toEqual({ kind: "switch", generation: 2, reused: false, repair: false, rollbackTo: 1 });
  });

  it("an unconfirmed first deployment still goes back to nothing installed", () => {
    const host = hostOn({ phase: "armed", current: 1, confirmed: null, files: { "/etc/a.conf": "edited", "/etc/b.conf": "b1" } });
    expect(planDeployment(host, wantA)).toEqual({ kind: "switch", generation: 1, reused: false, repair: false, rollbackTo: null });
  });

  it("never reuses a generation number, even above the current one after a rollback", () => {
    const host = hostOn({ generations: { "1": { manifest: "mA", secrets: "s1" }, "7": "damaged" } });
    expect(planDeployment(host, wantB)).toMatchObject({ kind: "switch", generation: 8 });
  });

  it("a damaged current generation is not linked from: everything is uploaded", () => {
    const host = hostOn({ phase: "armed", current: 2, confirmed: 1, manifest: null, files: {}, secrets: {}, generations: { "1": { manifest: "mB", secrets: "s1" }, "2": "damaged" } });
    expect(planDeployment(host, wantA)).toEqual({ kind: "switch", generation: 3, prepare: { files: ["/etc/a.conf", "/etc/b.conf"], secrets: [secret.path] }, reused: false, repair: false, rollbackTo: 1 });
  });

  it("refuses when the generation every rollback would go to is damaged or gone, and says how to go on", () => {
    const damaged = planDeployment(hostOn({ generations: { "1": "damaged" }, manifest: null }), wantB);
    expect(damaged).toMatchObject({ kind: "refuse" });
    expect((damaged as { reason: string }).reason).toMatch(/^generation 1, the last one confirmed healthy and the target of any rollback, is damaged .* Nothing was changed\./);
    expect(planDeployment(hostOn({ generations: {} }), wantB)).toMatchObject({ kind: "refuse", reason: expect.stringContaining("is missing") });
  });

  it("refuses while an interrupted rollback could not be finished", () => {
    expect(planDeployment(hostOn({ phase: "rolling-back", current: 2, confirmed: 1, generations: { "1": { manifest: "mA", secrets: "s1" }, "2": { manifest: "mB", secrets: "s1" } } }), wantA)).toMatchObject({ kind: "refuse" });
  });
});
