/**
 * Deployment on without an SSH key: the program names the missing config key and registers
 * nothing, before any host is touched.
 */
import * as pulumi from "@pulumi/pulumi";
import { recordRegistrations, stackFileConfig } from "./support/pulumiMocks";

it("names homefleet:sshPrivateKey when deployment is on and the key is missing", async () => {
  const registered = await recordRegistrations();
  const config = stackFileConfig(`${__dirname}/../Pulumi.staging.yaml`);
  delete config["homefleet:sshPrivateKey"];
  pulumi.runtime.setAllConfig(config);
  const { defineFleet } = await import("../program");
  expect(() => defineFleet()).toThrow(/Missing required configuration variable 'homefleet:sshPrivateKey'/);
  expect(registered).toEqual([]);
});
