/**
 * A small valid fleet of both flavours: a Debian host running a LiteLLM stack with PostgreSQL and
 * Redis, and a NixOS host running a plain container with a volume. Tests add what they exercise.
 */
export function mixedFleet(): { hosts: Record<string, any>; stacks: Record<string, any> } {
  return {
    hosts: {
      box: { address: "192.0.2.10", arch: "x86_64", os: "systemd" },
      pi: { address: "192.0.2.11", arch: "aarch64", os: "nixos" },
    },
    stacks: {
      llm: {
        host: "box",
        kind: "litellm",
        network: { subnet: "10.89.0.0/24" },
        container: { image: "ghcr.io/berriai/litellm-database:main-v1.81.3-stable" },
        database: {},
        cache: {},
        litellm: { models: [{ name: "local", model: "ollama/llama3", apiBase: "http://10.89.0.1:11434" }] },
      },
      wiki: {
        host: "pi",
        network: { subnet: "10.89.1.0/24" },
        container: { image: "docker.io/wallabag/wallabag:2.6.10", port: 80, healthCheck: { path: "/" }, volumes: [{ source: "/srv/wiki/images", target: "/var/www/images" }] },
      },
    },
  };
}
