/**
 * An emergency override: staging has not run prod's LiteLLM config healthily (its host there is
 * unhealthy), and homefleet:promoteOverride gives a reason. Prod deploys; the output shows the
 * differences and the reason.
 */
import { resolve, runProgram, type ProgramRun } from "./support/pulumiMocks";
import { prodConfig, stagingRelease } from "./support/promotion";

process.env.PULUMI_ERROR_OUTPUT_STRING = "true";

const REASON = "CVE-2026-0001 hotfix; staging host is down for hardware repair";

let run: ProgramRun;
beforeAll(async () => {
  const release = stagingRelease((r) => (r.hosts["litellm-forge-box"].verdict = "unhealthy"));
  run = await runProgram(prodConfig({ promoteOverride: { reason: REASON } }), ["homefleet:sshPrivateKey"], { stackOutputs: { staging: { release } } });
});

it("lets the deployment through and shows what it let through and why", async () => {
  expect(run.error).toBeUndefined();
  const promotion = (await resolve(run.outputs!.promotion as never)).value as Record<string, any>;
  expect(promotion.refused).toBe(false);
  expect(promotion.override).toBe(REASON);
  expect(promotion.differences.map((d: { path: string }) => d.path)).toEqual(["homefleet:stacks.litellm-forge.litellm"]);
  expect(promotion.differences[0].message).toContain("not counted, not healthy there: litellm-forge-box (unhealthy)");
  expect(promotion.message).toContain(`reason: ${REASON}`);
  for (const d of run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/homefleet:HostDeployment")) expect((d.inputs as Record<string, any>).promotion.refused).toBe(false);
});
