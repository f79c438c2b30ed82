/**
 * The plan made from the deployer's records before asking the host (speculativePlan), and the
 * lock command's output split into the host's status and the work it ran (splitSpeculated).
 * On real hosts: tests-e2e/speculative.e2e.test.ts.
 */
import type { HostManifest } from "../bundle/hostBundle";
import { splitSpeculated } from "../deploy/deployHost";
import { speculativePlan, type WantedGeneration } from "../deploy/plan";

const manifest = (sha256: string, files: Record<string, string>): HostManifest => ({ sha256, files: Object.entries(files).map(([path, sha]) => ({ path, sha256: sha, mode: "0644" })) }) as unknown as HostManifest;
const wanted = (m: HostManifest): WantedGeneration => ({ manifest: m, secrets: [{ path: "/etc/homefleet/s/key", mode: "0400", owner: "root", group: "root", sha256: "k" }], secretsDigest: "d" });

describe("speculativePlan", () => {
  it("a first deployment: generation 1, every file and secret, nothing to roll back to", () => {
    expect(speculativePlan({ generation: null, manifest: null }, wanted(manifest("m1", { "/a": "1", "/b": "2" })))).toEqual({
      kind: "switch",
      generation: 1,
      prepare: { files: ["/a", "/b"], secrets: ["/etc/homefleet/s/key"] },
      reused: false,
      repair: false,
      rollbackTo: null,
    });
  });

  it("a change: the next generation, the files that differ from the record (new ones too), every secret; back to the recorded generation", () => {
    const plan = speculativePlan({ generation: 4, manifest: manifest("m1", { "/a": "1", "/b": "2" }) }, wanted(manifest("m2", { "/a": "1", "/b": "3", "/c": "4" })));
    expect(plan).toMatchObject({ generation: 5, prepare: { files: ["/b", "/c"], secrets: ["/etc/homefleet/s/key"] }, rollbackTo: 4 });
  });

  it("no guess for the recorded manifest itself (a repair or a secrets-only change) nor for a half record", () => {
    expect(speculativePlan({ generation: 4, manifest: manifest("m1", { "/a": "1" }) }, wanted(manifest("m1", { "/a": "1" })))).toBeUndefined();
    expect(speculativePlan({ generation: 4, manifest: null }, wanted(manifest("m1", { "/a": "1" })))).toBeUndefined();
    expect(speculativePlan({ generation: null, manifest: manifest("m0", {}) }, wanted(manifest("m1", { "/a": "1" })))).toBeUndefined();
  });
});

describe("splitSpeculated", () => {
  const status = ['{"kept":{}}', "state confirmed - -", "holder x", "units:", "inactive", "hashes:", "expected: yes"].join("\n");

  it("the status alone when the host ran no work (not as expected, or no upload)", () => {
    expect(splitSpeculated(status.replace("yes", "no"), "")).toEqual({ before: status.replace("yes", "no") });
  });

  it("the work's output and exit status after the marker, the status before it", () => {
    const out = `${status}\nhomefleet:work\nprepared generation 1\nswitched to generation 1\nhomefleet:work-exit 3`;
    expect(splitSpeculated(out, "oops")).toEqual({ before: status, speculated: { code: 3, stdout: "prepared generation 1\nswitched to generation 1\n", stderr: "oops" } });
  });
});
