/**
 * Rollout waves under the mock runtime: a host of wave 1 takes the verdicts of wave 0 as an
 * input, so the engine deploys it only after wave 0 is healthy, and not at all when wave 0 fails.
 */
import { resolve, runProgram, stackFileConfig, type ProgramRun } from "./support/pulumiMocks";

process.env.PULUMI_ERROR_OUTPUT_STRING = "true";

const DEPLOYMENT = "pulumi-nodejs:dynamic/homefleet:HostDeployment";

function stagingWithWaves(): Record<string, string> {
  const config = stackFileConfig(`${__dirname}/../Pulumi.staging.yaml`);
  const hosts = JSON.parse(config["homefleet:hosts"]);
  hosts["pi-staging"].wave = 0;
  hosts["box-staging"].wave = 1;
  config["homefleet:hosts"] = JSON.stringify(hosts);
  config["homefleet:deploy"] = JSON.stringify({ installPackages: false });
  return config;
}

describe("two waves, wave 0 healthy", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram(stagingWithWaves());
  });

  it("deploys wave 0 first and hands its verdict to wave 1", () => {
    expect(run.error).toBeUndefined();
    const deployments = run.resources.filter((r) => r.type === DEPLOYMENT);
    // Registration order is the engine's: wave 1 only once wave 0's outputs exist.
    expect(deployments.map((d) => d.name)).toEqual(["pi-staging-deployment", "box-staging-deployment"]);
    const pi = deployments[0].inputs as Record<string, unknown>;
    const box = deployments[1].inputs as Record<string, unknown>;
    expect(pi.after).toEqual([]);
    expect(box.after).toEqual([{ host: "pi-staging", wave: 0, verdict: "healthy" }]);
  });

  it("reports each host's verdict in the release output", async () => {
    const release = (await resolve(run.outputs!.release as never)).value as Record<string, any>;
    expect(release.hosts).toEqual({
      "pi-staging": { verdict: "healthy", checkedAt: "2026-11-24T00:00:00.000Z", generation: 1 },
      "box-staging": { verdict: "healthy", checkedAt: "2026-11-24T00:00:00.000Z", generation: 1 },
    });
    expect(release.stacks["litellm-box"]).toEqual({ host: "box-staging", image: expect.stringMatching(/^ghcr\.io\/berriai\/litellm/), litellm: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(release.packages["box-staging"]).toContain("redis-server");
  });
});
