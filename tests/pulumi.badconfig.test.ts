/**
 * Bad config fails the program before any resource is registered: nothing half-declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { recordRegistrations, stackFileConfig } from "./support/pulumiMocks";

it("fails with the config path and registers no resource when a port is not a number", async () => {
  const registered = await recordRegistrations();
  const config = stackFileConfig(`${__dirname}/../Pulumi.staging.yaml`);
  const stacks = JSON.parse(config["homefleet:stacks"]);
  stacks["litellm-box"].cache.port = "63o9";
  config["homefleet:stacks"] = JSON.stringify(stacks);
  pulumi.runtime.setAllConfig(config);
  const { defineFleet } = await import("../program");

  expect(() => defineFleet()).toThrow(/homefleet:stacks\.litellm-box\.cache\.port: expected integer 1-65535, got "63o9"/);
  expect(registered).toEqual([]);
});
