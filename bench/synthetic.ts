/**
 * Synthetic stack config for the benchmarks: fleets larger than the committed stacks, as raw
 * `homefleet:*` values and as a stack file the CLI reads.
 */
import { stringify } from "yaml";

export interface RawStackConfig {
  readonly hosts: Record<string, unknown>;
  readonly stacks: Record<string, unknown>;
}

/** `hostCount` hosts, half NixOS and half Debian, each with a LiteLLM stack and a web app stack. */
export function syntheticFleetConfig(hostCount: number): RawStackConfig {
  const hosts: Record<string, unknown> = {};
  const stacks: Record<string, unknown> = {};
  for (let i = 0; i < hostCount; i++) {
    const nixos = i % 2 === 0;
    hosts[`host${i}`] = { address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, arch: nixos ? "aarch64" : "x86_64", os: nixos ? "nixos" : "systemd", postgresql: { settings: { shared_buffers: "256MB" } } };
    stacks[`llm${i}`] = {
      host: `host${i}`,
      kind: "litellm",
      network: { subnet: "10.89.0.0/24" },
      container: { image: "ghcr.io/berriai/litellm-database:main-v1.81.3-stable" },
      database: {},
      cache: { port: 6380 },
      litellm: { models: [{ name: "a", model: "ollama/a" }, { name: "b", model: "ollama/b" }], fallbacks: { a: ["b"] } },
    };
    stacks[`app${i}`] = {
      host: `host${i}`,
      network: { subnet: "10.89.1.0/24" },
      container: { image: "docker.io/wallabag/wallabag:2.6.10", port: 80, publish: { hostPort: 8081 }, healthCheck: { path: "/login" }, secretEnvironment: { DB_PASSWORD: "database.password" } },
      database: {},
    };
  }
  return { hosts, stacks };
}

/**
 * One Debian host carrying `stackCount` LiteLLM stacks, each with its own bridge, database and
 * Redis: six service units per stack (container, bridge, database role, Redis, its exporter and
 * backup) plus the host's own backup units.
 */
export function crowdedHostConfig(stackCount: number): RawStackConfig {
  const stacks: Record<string, unknown> = {};
  for (let i = 0; i < stackCount; i++) {
    stacks[`llm${i}`] = {
      host: "crowded",
      kind: "litellm",
      network: { subnet: `10.89.${i}.0/24` },
      container: { image: "ghcr.io/berriai/litellm-database:main-v1.81.3-stable", publish: { hostPort: 4000 + i } },
      database: {},
      cache: { port: 6380 + i },
      litellm: { models: [{ name: "a", model: "ollama/a" }] },
    };
  }
  return { hosts: { crowded: { address: "192.168.50.30", arch: "x86_64", os: "systemd" } }, stacks };
}

/** The text of a Pulumi stack file (`Pulumi.<stack>.yaml`) holding this config, block style as `pulumi config set` writes it. */
export function stackFileText(config: RawStackConfig): string {
  return stringify({ config: { "homefleet:hosts": config.hosts, "homefleet:stacks": config.stacks } });
}
