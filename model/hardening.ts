/**
 * One hardening preset for every unit homefleet writes, as systemd directives. Profiles only
 * relax what a unit's job needs, and each relaxation says why. (Seed 004 hardened its services
 * with drop-ins one by one; here no unit is written without it.)
 */

export type HardeningDirectives = Readonly<Record<string, string | readonly string[]>>;

/** Applies to every non-container unit. */
const BASE: HardeningDirectives = {
  NoNewPrivileges: "yes",
  ProtectSystem: "strict",
  ProtectHome: "yes",
  PrivateTmp: "yes",
  PrivateDevices: "yes",
  ProtectKernelTunables: "yes",
  ProtectKernelModules: "yes",
  ProtectKernelLogs: "yes",
  ProtectControlGroups: "yes",
  ProtectClock: "yes",
  ProtectHostname: "yes",
  ProtectProc: "invisible",
  ProcSubset: "pid",
  RestrictNamespaces: "yes",
  RestrictRealtime: "yes",
  RestrictSUIDSGID: "yes",
  LockPersonality: "yes",
  MemoryDenyWriteExecute: "yes",
  SystemCallArchitectures: "native",
  SystemCallFilter: ["@system-service", "~@privileged @resources"],
  // A filtered call fails with EPERM instead of killing the service: Go programs (the exporters)
  // call setrlimit at start and carry on when refused; with the default they die of SIGSYS, as
  // the Redis exporter did on a real host.
  SystemCallErrorNumber: "EPERM",
  RestrictAddressFamilies: "AF_UNIX",
  CapabilityBoundingSet: "",
  UMask: "0077",
};

export const hardening = {
  /** Sets up a bridge: needs CAP_NET_ADMIN and netlink, and the host's network namespace. */
  bridgeSetup: {
    ...BASE,
    // `ip link add ... type bridge|dummy` may autoload the bridge and dummy modules.
    ProtectKernelModules: "no",
    RestrictAddressFamilies: "AF_UNIX AF_NETLINK",
    CapabilityBoundingSet: "CAP_NET_ADMIN",
    AmbientCapabilities: "",
  } as HardeningDirectives,

  /** A PostgreSQL client that talks to the server only over its Unix socket. */
  postgresClient: {
    ...BASE,
    // Filesystem Unix sockets still work inside a private network namespace.
    PrivateNetwork: "yes",
    IPAddressDeny: "any",
    RemoveIPC: "yes",
  } as HardeningDirectives,

  /** A Redis server listening on TCP: needs the host network and nothing else. */
  redisServer: {
    ...BASE,
    RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
    RemoveIPC: "yes",
  } as HardeningDirectives,

  /** Talks to a service on loopback TCP (redis-cli to Redis): no other network. */
  loopbackClient: {
    ...BASE,
    RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
    IPAddressDeny: "any",
    IPAddressAllow: "localhost",
    RemoveIPC: "yes",
  } as HardeningDirectives,

  /** Works on local files only (archives, certificate checks). */
  localOnly: {
    ...BASE,
    PrivateNetwork: "yes",
    IPAddressDeny: "any",
    RemoveIPC: "yes",
  } as HardeningDirectives,

  /**
   * The nightly archive of a native service's data directories: owned by the service's own user
   * (0700, e.g. /var/lib/hass), so it reads them with CAP_DAC_READ_SEARCH and nothing else.
   */
  nativeArchive: {
    ...BASE,
    PrivateNetwork: "yes",
    IPAddressDeny: "any",
    RemoveIPC: "yes",
    CapabilityBoundingSet: "CAP_DAC_READ_SEARCH",
    AmbientCapabilities: "CAP_DAC_READ_SEARCH",
  } as HardeningDirectives,

  /**
   * A scheduled job that asked for the network (`jobs.<name>.network`): IPv4 and IPv6 sockets,
   * nothing else beyond the base. A job without it gets `localOnly`.
   */
  networkJob: {
    ...BASE,
    RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
    RemoveIPC: "yes",
  } as HardeningDirectives,

  /**
   * Off-site backup: reaches the repository over the network and reads dumps owned by postgres
   * and redis (0700), hence CAP_DAC_READ_SEARCH and nothing else.
   */
  networkBackup: {
    ...BASE,
    RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
    CapabilityBoundingSet: "CAP_DAC_READ_SEARCH",
    AmbientCapabilities: "CAP_DAC_READ_SEARCH",
  } as HardeningDirectives,

  /**
   * Certificate renewal: talks to the CA, answers HTTP-01 on port 80 (CAP_NET_BIND_SERVICE) and
   * asks systemd over D-Bus (AF_UNIX) to reload the consuming service.
   */
  certificateRenewal: {
    ...BASE,
    RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
    CapabilityBoundingSet: "CAP_NET_BIND_SERVICE",
    AmbientCapabilities: "CAP_NET_BIND_SERVICE",
  } as HardeningDirectives,

  /** A Prometheus exporter: a dynamic user, its own listening port, loopback or the monitoring network. */
  exporter: {
    ...BASE,
    RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
    PrivateUsers: "yes",
    RemoveIPC: "yes",
  } as HardeningDirectives,

  /**
   * Units that run podman get only what cannot break it: podman needs mounts, namespaces,
   * cgroups and setuid helpers, and the container itself is the isolation boundary. Nothing that
   * gives the unit its own mount namespace (ProtectHome=, ProtectKernelLogs=, PrivateTmp=...):
   * podman bind-mounts the container's network namespace under /run/netns, and from a private
   * mount namespace that mount is invisible to the next start, which then cannot tear down the
   * old network and leaves its port forwarding pointing at a dead address (seen on real hosts).
   */
  podman: {
    ProtectClock: "yes",
  } as HardeningDirectives,
};
