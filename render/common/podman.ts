/**
 * Podman settings shared by both flavours: the network definition file and run options.
 */
import { hash } from "node:crypto";
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
    id: hash("sha256", `homefleet-network:${network.name}`, "hex"),
    driver: "bridge",
    network_interface: network.interface,
    created: "2026-01-01T00:00:00Z",
    // A linked-to stack's container has a fixed address at the top of the subnet (see linkAddress):
    // the leases podman hands out dynamically end below it, so no other container can take it.
    subnets: [{ subnet: network.subnet, gateway: network.gateway, ...(network.linkedAddress ? { lease_range: { start_ip: nextAddress(network.gateway as string, 1), end_ip: nextAddress(network.linkedAddress, -1) } } : {}) }],
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

/** The IPv4 address `delta` after (or before) `address`. */
function nextAddress(address: string, delta: number): string {
  const n = address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0) + delta;
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** `3G` → `3g` (podman takes lowercase units). */
function podmanMemory(systemdSize: string): string {
  return systemdSize.toLowerCase();
}

/** `350%` → `3.5`. */
function podmanCpus(quota: string): string {
  return String(Number(quota.replace("%", "")) / 100);
}

/**
 * The bridges as `--network` values: the container's own first, then the linked stacks'; a fixed
 * address as podman's per-network option (`NAME:ip=ADDRESS`; a bare `--ip` is refused with
 * several networks).
 */
export function networkValues(container: ContainerSpec): string[] {
  return container.networks.map((n) => (n.ip ? `${n.name}:ip=${n.ip}` : n.name));
}

/**
 * Whether the container needs more than its own bridge by name: links, or a fixed address. NixOS
 * then uses oci-containers' `networks` option; a plain container keeps `--network` in extraOptions.
 */
export function joinsSeveralNetworks(container: ContainerSpec): boolean {
  return container.networks.length > 1 || container.networks.some((n) => n.ip);
}

/**
 * Options for `podman run` that both flavours pass through (NixOS: `extraOptions`). `networks:
 * false` leaves out the `--network` flags (NixOS' `networks` option carries them).
 */
export function podmanExtraOptions(container: ContainerSpec, network: NetworkSpec, { networks = true }: { networks?: boolean } = {}): string[] {
  const options = networks ? (network.mode === "host" ? ["--network=host"] : networkValues(container).map((n) => `--network=${n}`)) : [];
  // Linked containers by name, without DNS (homefleet's networks have none: see above).
  for (const h of container.hostEntries) options.push(`--add-host=${h.name}:${h.address}`);
  if (container.cgroups === "disabled") {
    // Test hosts without cgroup delegation: podman cannot create cgroups, and so cannot limit.
    options.push("--cgroups=disabled");
  } else {
    // Also limit the container itself: it runs in its own cgroup, outside the unit's MemoryMax.
    options.push(`--memory=${podmanMemory(container.memoryMax)}`, `--cpus=${podmanCpus(container.cpuQuota)}`);
  }
  return options;
}

/** `ADDRESS:HOSTPORT:CONTAINERPORT`, with `/udp` for UDP: the main port first. */
export function publishSpecs(container: ContainerSpec): string[] {
  return container.published.map((p) => `${p.address}:${p.hostPort}:${p.containerPort}${p.protocol === "udp" ? "/udp" : ""}`);
}

/**
 * `DeviceAllow=` entries for the podman unit on a plain systemd host. The unit restricts devices:
 * the podman preset's ProtectClock=yes implies `DeviceAllow=char-rtc r`, and any DeviceAllow= turns
 * DevicePolicy=auto into an allow-list. A device node is allowed by its path; systemd ignores a
 * directory there ("not a device"), so the usual device directories are allowed by their
 * /proc/devices group instead. `m` lets the runtime create the node inside the container.
 */
export function deviceAllow(devices: readonly string[]): string[] {
  const groups: Record<string, string> = { "/dev/dri": "char-drm", "/dev/snd": "char-alsa", "/dev/input": "char-input", "/dev/bus/usb": "char-usb_device", "/dev/dvb": "char-DVB", "/dev/vfio": "char-vfio" };
  return [...new Set(devices.map((d) => `${groups[d] ?? d} rwm`))];
}

export function volumeSpecs(container: ContainerSpec): string[] {
  return [
    ...container.configMounts.map((m) => `${m.file}:${m.target}:ro`),
    ...container.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ":ro" : ""}`),
  ];
}
