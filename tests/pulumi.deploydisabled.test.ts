/**
 * Deployment settings under the mock runtime: off means no host deployments and no SSH key;
 * on without a key names the missing config key. One program run per file (module registry).
 */
import { runProgram, stackFileConfig } from "./support/pulumiMocks";

process.env.PULUMI_ERROR_OUTPUT_STRING = "true";

it("registers no deployment, and needs no SSH key, with homefleet:deploy.enabled false", async () => {
  const config = stackFileConfig(`${__dirname}/../Pulumi.staging.yaml`);
  delete config["homefleet:sshPrivateKey"];
  config["homefleet:deploy"] = JSON.stringify({ enabled: false });
  const run = await runProgram(config, []);
  expect(run.error).toBeUndefined();
  expect(run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/homefleet:HostDeployment" || r.type === "pulumi-nodejs:dynamic/homefleet:HostPackages")).toEqual([]);
  expect(run.resources.filter((r) => r.type === "homefleet:host:FleetHost")).toHaveLength(2);
});
