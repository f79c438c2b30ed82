/**
 * The fleet the end-to-end tests deploy: one LiteLLM stack (the stand-in image) with PostgreSQL
 * and Redis on a test host, and secret values as Pulumi would give them, one of them a canary.
 */
import { randomBytes } from "node:crypto";
import { renderFleet, type FleetRender, type HostBundle } from "../../bundle/hostBundle";
import { parseFleetConfig } from "../../config/load";
import type { SecretFileContent } from "../../deploy/deployHost";
import { composeSecretFile } from "../../model/secretFile";
import type { TestHost } from "./hosts";

export const CANARY = `CANARY${randomBytes(8).toString("hex")}`;

export type StackChange = (stack: Record<string, any>) => void;

/**
 * `stackName`: the stack's name (a rename is a new name with the same settings); `hostSettings`:
 * more host config (e.g. backup); `configKeys`: the secret config keys it names (their values in
 * secretValues as `config/<key>`).
 */
export function fleet(host: TestHost, change: StackChange = () => undefined, stackName = "proxy", hostSettings: Record<string, unknown> = {}, configKeys: string[] = []): FleetRender {
  const stack = standinStack(host.name);
  change(stack);
  const config = parseFleetConfig({
    hosts: { [host.name]: { address: host.address, arch: host.arch, os: "systemd", hostKey: host.hostKey, podman: { cgroups: "disabled" }, ...hostSettings } },
    stacks: { [stackName]: stack },
    configKeys,
  });
  return renderFleet(config);
}

/** One LiteLLM stack on the host named HOST: the stand-in image, with PostgreSQL and Redis on its bridge, gated on HEALTH_CHECK. */
export function standinStack(host: string, healthCheck: { path: string; timeoutSec: number; intervalSec: number } = { path: "/health/readiness", timeoutSec: 90, intervalSec: 2 }): Record<string, any> {
  return {
    host,
    kind: "litellm",
    network: { subnet: "10.89.0.0/24" },
    container: { image: "localhost/homefleet-standin:1", memoryMax: "512M", healthCheck },
    database: {},
    cache: { port: 6380 },
    litellm: { models: [{ name: "local", model: "ollama/llama3.1:8b", apiBase: "http://10.89.0.1:11434" }] },
  };
}

/** Random values, with the canary inside the database password; any stack's name takes the same ones. */
export const secretValues: Record<string, string> = {
  "proxy/database-password": `${CANARY}db`,
  "proxy/cache-password": randomBytes(16).toString("hex"),
  "proxy/litellm-master-key": randomBytes(24).toString("hex"),
};
const values = new Proxy(secretValues, { get: (target, id: string) => target[id] ?? target[id.replace(/^[^/]+\//, "proxy/")] });

export function secretsOf(bundle: HostBundle): SecretFileContent[] {
  return [...bundle.host.secretFiles, ...bundle.host.stacks.flatMap((s) => s.secretFiles)].map((spec) => ({
    path: spec.path,
    mode: spec.mode,
    owner: spec.owner,
    group: spec.group,
    content: composeSecretFile(spec, (id) => values[id]),
  }));
}
