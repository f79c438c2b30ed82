/**
 * The promotion gate passing: staging ran prod's exact images and LiteLLM configs (with its own
 * endpoints) healthily, so prod deploys, and the verdict says so.
 */
import { resolve, runProgram, type ProgramRun } from "./support/pulumiMocks";
import { prodConfig, stagingRelease } from "./support/promotion";

process.env.PULUMI_ERROR_OUTPUT_STRING = "true";

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram(prodConfig(), ["homefleet:sshPrivateKey"], { stackOutputs: { staging: { release: stagingRelease() } } });
});

it("passes with no differences, and every deployment may go ahead", async () => {
  expect(run.error).toBeUndefined();
  const promotion = (await resolve(run.outputs!.promotion as never)).value as Record<string, any>;
  expect(promotion).toMatchObject({ from: "staging", differences: [], refused: false });
  for (const d of run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/homefleet:HostDeployment")) {
    expect((d.inputs as Record<string, any>).promotion).toEqual({ from: "staging", refused: false, message: "promoted from staging: everything this stack deploys ran healthily there" });
  }
});
