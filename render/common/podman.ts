/**
 * Podman settings shared by both flavours: the network definition file and run options.
 */
import { createHash } from "node:crypto";
import { configPaths } from "../../model/paths";
import type { ContainerSpec, NetworkSpec } from "../../model/specs";

/**
 * podman's own network definition (/etc/containers/networks/NAME.json), written by homefleet
 * instead of `podman network create`: bookworm's podman 4.3 cannot name the bridge
 * (`--interface-name` is missing), and a file is declarative and visible to drift detection.
 * Deterministic: the id derives from the name and `created` is fixed.
 */
export function podmanNetworkFile(network: NetworkSpec): string {
  if (network.mode !== "bridge") throw new Error(`network ${network.name} is not a bridge`);
  const doc = {
    name: network.name,
    id: createHash("sha256").update(`homefleet-network:${network.name}`).digest("hex"),
    driver: "bridge",
    network_interface: network.interface,
    created: "2026-01-01T00:00:00Z",
    subnets: [{ subnet: network.subnet, gateway: network.gateway }],
    ipv6_enabled: false,
    internal: false,
    // seed 001: aardvark-dns would bind port 53 on the gateway; containers reach host services by address.
    dns_enabled: false,
    ipam_options: { driver: "host-local" },
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

export function podmanNetworkFilePath(network: NetworkSpec): string {
  return configPaths.podmanNetwork(network.name);
}

/** `3G` → `3g` (podman takes lowercase units). */
function podmanMemory(systemdSize: string): string {
  return systemdSize.toLowerCase();
}

/** `350%` → `3.5`. */
function podmanCpus(quota: string): string {
  return String(Number(quota.replace("%", "")) / 100);
}

/** Options for `podman run` that both flavours pass through (NixOS: `extraOptions`). */
export function podmanExtraOptions(container: ContainerSpec, network: NetworkSpec): string[] {
  const options = [`--network=${network.mode === "host" ? "host" : network.name}`];
  if (container.cgroups === "disabled") {
    // Test hosts without cgroup delegation: podman cannot create cgroups, and so cannot limit.
    options.push("--cgroups=disabled");
  } else {
    // Also limit the container itself: it runs in its own cgroup, outside the unit's MemoryMax.
    options.push(`--memory=${podmanMemory(container.memoryMax)}`, `--cpus=${podmanCpus(container.cpuQuota)}`);
  }
  return options;
}

export function publishSpec(container: ContainerSpec): string {
  return `${container.publishAddress}:${container.publishPort}:${container.containerPort}`;
}

export function volumeSpecs(container: ContainerSpec): string[] {
  return [
    ...container.configMounts.map((m) => `${m.file}:${m.target}:ro`),
    ...container.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ":ro" : ""}`),
  ];
}
