/**
 * Promotion and rollout waves under the real Pulumi engine: a staging and a prod stack in one file
 * backend, prod reading staging's `release` through a real StackReference. Prod is refused until
 * staging has run the image healthily, then deploys wave 0 (pr0) and, only once that is healthy,
 * wave 1 (pr1); a failing wave 0 keeps wave 1 untouched.
 */
import { standinStack } from "./support/fleet";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { PulumiProject } from "./support/pulumiCli";

let staging: TestHost;
let wave0: TestHost;
let wave1: TestHost;
let project: PulumiProject;

const hostConfig = (h: TestHost, wave = 0) => ({ address: h.address, arch: "x86_64", os: "systemd", hostKey: h.hostKey, podman: { cgroups: "disabled" }, wave });

function stack(host: TestHost, healthPath = "/health/readiness"): Record<string, unknown> {
  return standinStack(host.name, { path: healthPath, timeoutSec: 10, intervalSec: 1 });
}

const deploySettings = { healthTimeoutSec: 30, healthSoakSec: 5, confirmAfterSec: 120 };

function prodConfig(wave0Health = "/health/readiness"): Record<string, unknown> {
  return {
    "homefleet:hosts": { [wave0.name]: hostConfig(wave0, 0), [wave1.name]: hostConfig(wave1, 1) },
    "homefleet:stacks": { front: stack(wave0, wave0Health), back: stack(wave1) },
    "homefleet:deploy": deploySettings,
    "homefleet:promoteFrom": "staging",
  };
}

const up = (stackName: string) => project.run(["up", "--stack", stackName, "--yes", "--skip-preview", "--color", "never"]);

beforeAll(async () => {
  staging = bootHost("pr-stg", 31);
  wave0 = bootHost("pr0", 32);
  wave1 = bootHost("pr1", 33);
  project = new PulumiProject("promotion");
  await project.initStack("staging", { "homefleet:hosts": { [staging.name]: hostConfig(staging) }, "homefleet:stacks": { app: stack(staging) }, "homefleet:deploy": deploySettings }, staging.keyFile);
  await project.initStack("prod", prodConfig(), staging.keyFile);
});

afterAll(() => {
  for (const h of ["pr-stg", "pr0", "pr1"]) stopHost(h);
  for (const r of project?.runs ?? []) console.log(`pulumi ${r.args.join(" ")}: exit ${r.code ?? r.signal} in ${r.seconds.toFixed(1)} s`);
  project?.cleanup();
});

describe("promotion through a real StackReference", () => {
  it("refuses prod while staging has not run the image, and touches no prod host", async () => {
    const r = await up("prod");
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/HostDeployment resource 'pr0-deployment' has a problem: homefleet: this stack would deploy \d+ thing\(s\) that staging has not run healthily:\n\s+homefleet:promoteFrom: stack staging has no release output: deploy it with pulumi up first/);
    expect(r.stdout).not.toContain("map[");
    for (const h of [wave0, wave1]) expect(onHost(h, "test -e /var/lib/homefleet/current; echo $?").stdout.trim()).toBe("1");
  });

  it("lets prod through once staging ran it healthily, wave 1 only after wave 0 is healthy", async () => {
    const s = await up("staging");
    expect({ code: s.code, out: s.code === 0 ? "" : s.stdout.slice(-3000) }).toEqual({ code: 0, out: "" });
    expect((await project.outputs("staging")).release.hosts[staging.name]).toMatchObject({ verdict: "healthy" });
    const p = await up("prod");
    expect({ code: p.code, out: p.code === 0 ? "" : p.stdout.slice(-3000) }).toEqual({ code: 0, out: "" });
    const out = await project.outputs("prod");
    expect(out.promotion).toMatchObject({ from: "staging", refused: false, differences: [] });
    const wave0Healthy = Date.parse(out.release.hosts[wave0.name].checkedAt);
    // When wave 1's first generation was written on its host (the containers share this clock).
    const wave1Started = Number(onHost(wave1, "stat -c %Y /var/lib/homefleet/generations/1").stdout.trim()) * 1000;
    expect(out.release.hosts[wave1.name]).toMatchObject({ verdict: "healthy", generation: 1 });
    expect(wave1Started).toBeGreaterThanOrEqual(Math.floor(wave0Healthy / 1000) * 1000);
  });

  it("a failing wave 0 stops the rollout before wave 1 is touched", async () => {
    const config = prodConfig("/no-such-endpoint");
    // Both hosts would change: wave 1 gets a new Redis limit.
    (config["homefleet:stacks"] as Record<string, any>).back.cache.maxMemory = "64mb";
    project.setConfig("prod", config);
    const r = await up("prod");
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/host pr0: generation 2 failed its health check/);
    expect(onHost(wave1, "cat /var/lib/homefleet/state").stdout.trim()).toBe("confirmed 1 1");
    expect(onHost(wave1, "grep -c '^maxmemory 64mb' /etc/homefleet/back/redis.conf").stdout.trim()).toBe("0");
  });
});
