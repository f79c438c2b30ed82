import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, parseFleetConfig, type FleetConfig } from "./load";

/**
 * Reads `homefleet:hosts` and `homefleet:stacks` from the Pulumi stack config. Structured config
 * arrives as JSON text; secret values are never read here, only their key names.
 */
export function fleetConfigFromPulumi(): FleetConfig {
  const all = pulumi.runtime.allConfig();
  const prefix = `${CONFIG_NAMESPACE}:`;
  const parse = (key: string): unknown => {
    const text = all[prefix + key];
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
  const configKeys = Object.keys(all)
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  // Which keys Pulumi holds as secrets: internal to the SDK's runtime (not in its typings), the same
  // list `pulumi.Config.get` consults to wrap a secret value.
  const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };
  const secretKeys = configKeys.filter((k) => isConfigSecret(prefix + k));
  return parseFleetConfig({ hosts: parse("hosts"), stacks: parse("stacks"), monitoring: parse("monitoring"), review: parse("review"), deploy: parse("deploy"), promoteFrom: parse("promoteFrom"), promoteOverride: parse("promoteOverride"), configKeys, secretKeys, deploying: true });
}
