/**
 * A mixed fleet under the real Pulumi engine: one x86_64 and one aarch64 host (emulated, see
 * aarch64.e2e.test.ts) in one stack, driven by the Pulumi CLI built from Go modules.
 *
 * CI runs the preview. The deployment needs HOMEFLEET_E2E_AARCH64=all: under qemu-user emulation the aarch64 host cannot start the
 * stack's units (e2e/README.md, "aarch64 hosts").
 */
import { readFileSync } from "node:fs";
import { standinStack } from "./support/fleet";
import { bootHost, DEBIAN_ARCH, onHost, stopHost, type TestHost } from "./support/hosts";
import { PulumiProject } from "./support/pulumiCli";
import { readiness } from "./support/scenarios";

const ALL = process.env.HOMEFLEET_E2E_AARCH64 === "all";
const deploys = ALL ? it : it.skip;

const STACK = "mixed";
let x86: TestHost;
let arm: TestHost;
let project: PulumiProject;

function stack(host: TestHost): Record<string, unknown> {
  return standinStack(host.name, { path: "/health/readiness", timeoutSec: 60, intervalSec: 1 });
}

function config(): Record<string, unknown> {
  const host = (h: TestHost) => ({ address: h.address, arch: h.arch, os: "systemd", hostKey: h.hostKey, podman: { cgroups: "disabled" } });
  return {
    "homefleet:hosts": { [x86.name]: host(x86), [arm.name]: host(arm) },
    "homefleet:stacks": { onx86: stack(x86), onarm: stack(arm) },
    // The emulated host starts its units several times slower.
    "homefleet:deploy": { healthTimeoutSec: 300, healthSoakSec: 5, confirmAfterSec: 420 },
  };
}

beforeAll(async () => {
  x86 = bootHost("mix-x", 52, "x86_64");
  arm = bootHost("mix-a", 53, "aarch64");
  project = new PulumiProject("mixed");
  await project.initStack(STACK, config(), x86.keyFile);
});

afterAll(() => {
  stopHost("mix-x");
  stopHost("mix-a");
  for (const r of project?.runs ?? []) console.log(`pulumi ${r.args.join(" ")}: exit ${r.code ?? r.signal} in ${r.seconds.toFixed(1)} s`);
  project?.cleanup();
});

describe("one x86_64 and one aarch64 host under the real Pulumi engine", () => {
  it("preview of the mixed fleet plans each host's packages and deployment", async () => {
    const preview = await project.ok(["preview", "--stack", STACK, "--color", "never"]);
    for (const h of [x86, arm]) {
      expect(preview.stdout).toMatch(new RegExp(`\\+\\s+pulumi-nodejs:dynamic/homefleet:HostPackages\\s+${h.name}-packages\\s+create`));
      expect(preview.stdout).toMatch(new RegExp(`\\+\\s+pulumi-nodejs:dynamic/homefleet:HostDeployment\\s+${h.name}-deployment\\s+create`));
    }
  });

  deploys("one up deploys both: each host healthy at generation 1, each with its own architecture's packages", async () => {
    await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"], { timeoutSec: 900 });
    const out = await project.outputs(STACK);
    expect(out.hosts[x86.name].arch).toBe("x86_64");
    expect(out.hosts[arm.name].arch).toBe("aarch64");
    expect(out.release.hosts[x86.name]).toMatchObject({ generation: 1, verdict: "healthy" });
    expect(out.release.hosts[arm.name]).toMatchObject({ generation: 1, verdict: "healthy" });
    for (const h of [x86, arm]) {
      expect({ host: h.name, machine: onHost(h, "uname -m").stdout.trim(), readiness: readiness(h) }).toEqual({ host: h.name, machine: h.arch, readiness: "200" });
      expect({ host: h.name, podman: onHost(h, "dpkg-query -W -f '${Architecture}' podman").stdout }).toEqual({ host: h.name, podman: DEBIAN_ARCH[h.arch] });
    }
    const resources = JSON.parse(readFileSync(project.stateFile(STACK), "utf8")).checkpoint.latest.resources as { urn: string; outputs: Record<string, any> }[];
    const installed = (h: TestHost) => resources.find((r) => r.urn.endsWith(`::${h.name}-packages`))!.outputs.installed as Record<string, string>;
    expect(Object.keys(installed(arm)).sort()).toEqual(Object.keys(installed(x86)).sort());
    for (const h of [x86, arm]) expect(Object.entries(installed(h)).filter(([, version]) => version === "missing")).toEqual([]);
  });

  deploys("a change to both stacks in one up updates both hosts", async () => {
    const changed = config() as { "homefleet:stacks": Record<string, any> };
    for (const s of Object.values(changed["homefleet:stacks"])) s.cache.maxMemory = "96mb";
    project.setConfig(STACK, changed);
    const up = await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"], { timeoutSec: 900 });
    expect(up.stdout).toMatch(/mix-x-deployment\s+updated/);
    expect(up.stdout).toMatch(/mix-a-deployment\s+updated/);
    const out = await project.outputs(STACK);
    for (const h of [x86, arm]) {
      expect(out.release.hosts[h.name]).toMatchObject({ generation: 2, verdict: "healthy" });
      expect(onHost(h, `grep '^maxmemory ' /etc/homefleet/on${h === x86 ? "x86" : "arm"}/redis.conf`).stdout.trim()).toBe("maxmemory 96mb");
    }
  });
});
