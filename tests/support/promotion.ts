/** Prod promoting from staging under the mock runtime: prod's config and a staging `release` output. */
import { loadStackFile } from "../../config/load";
import { releaseOf, type Release } from "../../promotion/release";
import { stackFileConfig } from "./pulumiMocks";

const PROD = `${__dirname}/../../Pulumi.prod.yaml`;

export function prodConfig(extra: Record<string, unknown> = {}): Record<string, string> {
  const config = stackFileConfig(PROD);
  config["homefleet:promoteFrom"] = "staging"; // as Pulumi.prod.yaml says
  config["homefleet:deploy"] = JSON.stringify({ installPackages: false });
  for (const [k, v] of Object.entries(extra)) config[`homefleet:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  return config;
}

/** What staging reports after running prod's exact images and LiteLLM configs healthily, then `change`. */
export function stagingRelease(change: (release: { stacks: Record<string, any>; hosts: Record<string, any> }) => void = () => undefined): Release {
  const wanted = releaseOf(loadStackFile(PROD), {});
  // Staging's own stack names and hosts: one host ran each stack.
  const stacks: Record<string, any> = {};
  const hosts: Record<string, any> = {};
  for (const [name, stack] of Object.entries(wanted.stacks)) {
    stacks[`${name}-staging`] = { ...stack, host: `${name}-box` };
    hosts[`${name}-box`] = { verdict: "healthy", checkedAt: "2026-11-23T10:00:00.000Z", generation: 4 };
  }
  const release = { stacks, packages: {}, hosts };
  change(release);
  return release;
}
