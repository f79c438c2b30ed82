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
  // Homefleet's own config error, which says to give the key on stdin (Pulumi's own message puts it on the command line).
  expect(() => defineFleet()).toThrow(
    "invalid homefleet configuration:\n  homefleet:sshPrivateKey: not set: deployments log in to every host with it (pulumi config set --secret homefleet:sshPrivateKey < ~/.ssh/<the deploy key>)",
  );
  expect(registered).toEqual([]);
});
