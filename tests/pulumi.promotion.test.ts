/**
 * The promotion gate refusing: staging ran an older LiteLLM image than prod would deploy. The
 * verdict lists each difference with its config path; every host deployment carries it, and the
 * provider's check fails with it, so no prod host is touched.
 */
import { hostDeploymentProvider } from "../deploy/hostDeploymentProvider";
import { resolve, runProgram, type ProgramRun } from "./support/pulumiMocks";
import { prodConfig, stagingRelease } from "./support/promotion";

process.env.PULUMI_ERROR_OUTPUT_STRING = "true";

let run: ProgramRun;
beforeAll(async () => {
  const release = stagingRelease((r) => {
    r.stacks["litellm-staging"].image = "ghcr.io/berriai/litellm-database:main-v1.80.0-stable";
    r.stacks["litellm-forge-staging"].image = "ghcr.io/berriai/litellm-database:main-v1.80.0-stable";
  });
  run = await runProgram(prodConfig(), ["homefleet:sshPrivateKey"], { stackOutputs: { staging: { release } } });
});

it("reads staging through a StackReference", () => {
  expect(run.error).toBeUndefined();
  expect(run.resources.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.name)).toEqual(["staging"]);
});

it("refuses, listing each difference with its config path", async () => {
  const promotion = (await resolve(run.outputs!.promotion as never)).value as Record<string, any>;
  expect(promotion.refused).toBe(true);
  expect(promotion.differences.map((d: { path: string }) => d.path)).toEqual(["homefleet:stacks.litellm.container.image", "homefleet:stacks.litellm-forge.container.image"]);
  expect(promotion.differences[0].message).toBe(
    "ghcr.io/berriai/litellm-database:main-v1.81.3-stable has not run healthily in staging (healthy there: docker.io/wallabag/wallabag:2.6.10, ghcr.io/berriai/litellm-database:main-v1.80.0-stable)",
  );
  expect(promotion.message).toMatch(/^homefleet: this stack would deploy 2 thing\(s\) that staging has not run healthily:\n  homefleet:stacks\.litellm\.container\.image: /);
});

it("hands the refusal to every host deployment, whose check fails with the message", async () => {
  const deployments = run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/homefleet:HostDeployment");
  expect(deployments).toHaveLength(2);
  for (const d of deployments) {
    const inputs = d.inputs as Record<string, any>;
    expect(inputs.promotion.refused).toBe(true);
    const checked = await hostDeploymentProvider.check!({}, inputs);
    expect(checked.failures).toEqual([{ property: "", reason: inputs.promotion.message }]);
  }
});
