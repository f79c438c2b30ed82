/**
 * A review error stops the program before any resource is registered; accepting it with a
 * written reason lets the preview go on.
 */
import * as pulumi from "@pulumi/pulumi";
import { recordRegistrations, settleRegistrations, stackFileConfig } from "./support/pulumiMocks";

function configWithPortClash(): Record<string, string> {
  const config = stackFileConfig(`${__dirname}/../Pulumi.staging.yaml`);
  const stacks = JSON.parse(config["homefleet:stacks"]);
  // The node exporter listens on 9100 on every host.
  stacks["litellm-box"].container.publish = { hostPort: 9100, address: "192.168.50.12" };
  config["homefleet:stacks"] = JSON.stringify(stacks);
  return config;
}


it("stops with the finding and registers nothing when the review finds an error", async () => {
  const registered = await recordRegistrations(true);
  pulumi.runtime.setAllConfig(configWithPortClash(), ["homefleet:sshPrivateKey"]);
  const { defineFleet } = await import("../program");
  expect(() => defineFleet()).toThrow(/port-clash homefleet:hosts\.box-staging: .*both listen on 192\.168\.50\.12:9100/);
  expect(registered).toEqual([]);
});

it("goes on when the config accepts the finding with a reason", async () => {
  await recordRegistrations(true);
  const config = configWithPortClash();
  config["homefleet:review"] = JSON.stringify({ accept: [{ check: "port-clash", path: "homefleet:hosts.box-staging", reason: "the node exporter is disabled on this box by hand" }] });
  // Deployment off: this test stops at the program's first pass.
  config["homefleet:deploy"] = JSON.stringify({ enabled: false });
  pulumi.runtime.setAllConfig(config, ["homefleet:sshPrivateKey"]);
  const { defineFleet } = await import("../program");
  expect(() => defineFleet()).not.toThrow();
  await settleRegistrations();
});
