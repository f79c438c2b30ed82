/**
 * The homefleet Pulumi program: config → model → rendered host bundles → one FleetHost per host
 * with its ServiceStacks as children. Bad config throws before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { renderFleet, type FleetRender } from "./bundle/hostBundle";
import { ServiceStack } from "./components";
import { ConfigError } from "./config/load";
import type { DeployConfig } from "./config/schema";
import { fleetConfigFromPulumi } from "./config/pulumiConfig";
import { FleetHost } from "./hosts";
import { describeFinding, reviewFleet } from "./review";

function loadFleet(): { fleet: FleetRender; deploy: DeployConfig } {
  try {
    const config = fleetConfigFromPulumi();
    const render = renderFleet(config);
    // The review runs on every preview: an error stops it before any resource is registered,
    // unless homefleet:review.accept names it with a reason.
    const review = reviewFleet({ config, render });
    if (review.blocking.length) {
      throw new pulumi.RunError(`homefleet review found ${review.blocking.length} error(s):\n${review.blocking.map((f) => `  ${describeFinding(f)}`).join("\n")}`);
    }
    for (const f of review.findings) {
      if (f.severity === "error" || f.severity === "warning") pulumi.log.warn(describeFinding(f));
      else pulumi.log.info(describeFinding(f));
    }
    for (const a of review.unusedAccepts) pulumi.log.warn(`homefleet:review.accept names ${a.check} ${a.path}, which no longer occurs: remove it`);
    return { fleet: render, deploy: config.deploy };
  } catch (err) {
    if (err instanceof ConfigError) {
      // RunError: the CLI shows the message without a stack trace.
      throw new pulumi.RunError(`invalid homefleet configuration:\n${err.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
    }
    throw err;
  }
}

export interface FleetOutputs {
  /** Per host: flavour, manifest hash, every file with mode and sha256, secret file paths. */
  readonly hosts: Record<string, pulumi.Output<unknown>>;
  /** Per stack: the health checks the deployment gates on. */
  readonly stacks: Record<string, { healthChecks: pulumi.Output<unknown> }>;
}

export function defineFleet(): FleetOutputs {
  const { fleet, deploy } = loadFleet();
  for (const warning of fleet.warnings) pulumi.log.warn(warning);

  const config = new pulumi.Config("homefleet");
  // Read once: every host logs in with the same key, and a missing key names homefleet:sshPrivateKey.
  const privateKey = deploy.enabled ? config.requireSecret("sshPrivateKey") : undefined;
  const hosts: FleetOutputs["hosts"] = {};
  const stacks: FleetOutputs["stacks"] = {};
  for (const bundle of fleet.bundles) {
    const hostSecrets = Object.fromEntries(bundle.host.configSecrets.map((key) => [key, config.requireSecret(key)]));
    const host = new FleetHost(bundle.host.name, { bundle, configSecrets: hostSecrets });
    const stackSecretFiles = bundle.host.stacks.map((stack) => {
      const configSecrets = Object.fromEntries(stack.configSecrets.map((key) => [key, config.requireSecret(key)]));
      const component = new ServiceStack(stack.name, { stack, configSecrets }, { parent: host });
      stacks[stack.name] = { healthChecks: component.healthChecks };
      return component.secretFiles;
    });
    host.finish(privateKey ? { settings: deploy, privateKey, stackSecretFiles } : undefined);
    hosts[bundle.host.name] = pulumi.output({
      os: host.os,
      arch: host.arch,
      manifestSha256: host.manifestSha256,
      files: host.files.apply((files) => files.map((f) => `${f.path} ${f.mode} ${f.sha256}`)),
      secretFiles: host.secretFilePaths,
      ...(host.deployment ? { generation: host.deployment.generation, health: host.deployment.health, unitStates: host.deployment.unitStates } : {}),
    });
  }
  return { hosts, stacks };
}
