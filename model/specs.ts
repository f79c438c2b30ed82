import type { HardeningDirectives } from "./hardening";
import type { PackagedExporter } from "../config/schema";
/**
 * The flavour-neutral model of a fleet: what each host runs, independent of whether it is
 * written as a NixOS module or as unit files. Renderers read only these types.
 */

export type HostOs = "nixos" | "systemd";
export type HostArch = "aarch64" | "x86_64";

/** A secret value homefleet generates (Pulumi `RandomPassword`), named fleet-wide. */
export interface GeneratedSecretSpec {
  /** e.g. `litellm/database-password`. */
  readonly id: string;
  readonly description: string;
  readonly length: number;
}

/** A piece of a secret file: literal text or the value of a secret (optionally URI-encoded). */
export type SecretPart = string | { readonly secret: string; readonly encode?: "uri" };

/**
 * A root-owned file holding secrets, written by the deployer from Pulumi secrets at deploy
 * time. Only its path and recipe are in the model; its content never is.
 */
export interface SecretFileSpec {
  readonly path: string;
  readonly owner: string;
  readonly group: string;
  readonly mode: "0400" | "0440";
  /**
   * `env`: NAME=value lines (podman --env-file); `raw`: the value alone, no newline;
   * `redis-conf`: `name "value"` lines; `env-text`: a secret that is itself NAME=value lines.
   */
  readonly format: "env" | "raw" | "redis-conf" | "env-text";
  readonly entries: readonly { readonly name: string; readonly parts: readonly SecretPart[] }[];
}

export interface NetworkSpec {
  readonly mode: "bridge" | "host" | "none";
  readonly name: string;
  readonly subnet?: string;
  readonly gateway?: string;
  readonly interface?: string;
  /**
   * The fixed address of the stack's container on this bridge, when another stack links to it;
   * podman's dynamic leases then end below it.
   */
  readonly linkedAddress?: string;
}

/** The dummy interface that keeps a bridge alive while no container is attached (see homefleet-network). */
export function anchorInterface(bridge: string): string {
  return `${bridge}-k`;
}

/** A service that must be healthy before a deployment counts as done. */
export type HealthCheckSpec =
  | { readonly kind: "http"; readonly unit: string; readonly url: string; readonly timeoutSec: number; readonly intervalSec: number }
  | { readonly kind: "postgres"; readonly unit: string; readonly host: string; readonly port: number; readonly timeoutSec: number }
  | { readonly kind: "redis"; readonly unit: string; readonly host: string; readonly port: number; readonly timeoutSec: number; readonly passwordFile: string }
  | { readonly kind: "unit"; readonly unit: string; readonly timeoutSec: number };

export interface ListenerSpec {
  readonly address: string;
  readonly port: number;
  /** A TCP and a UDP socket on one port do not clash. */
  readonly protocol: "tcp" | "udp";
  readonly owner: string;
}

/** A port podman publishes from the container to the host (`--publish ADDRESS:HOSTPORT:CONTAINERPORT[/udp]`). */
export interface PublishedPortSpec {
  readonly address: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: "tcp" | "udp";
}

/** A podman network the container joins, with its fixed address there when it has one. */
export interface ContainerNetworkSpec {
  readonly name: string;
  /** Set on the container's own bridge when another stack links to it (`--network=NAME:ip=ADDRESS`). */
  readonly ip?: string;
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly containerPort: number;
  readonly publishAddress: string;
  readonly publishPort: number;
  /** Every published port, the main one (`publishAddress:publishPort:containerPort`) first; empty on host networking. */
  readonly published: readonly PublishedPortSpec[];
  /**
   * Bridges the container joins: its own first, then those of the stacks it links to; empty on
   * host networking.
   */
  readonly networks: readonly ContainerNetworkSpec[];
  /** `/etc/hosts` entries for linked containers (`--add-host`): their names resolve without DNS. */
  readonly hostEntries: readonly { readonly name: string; readonly address: string }[];
  /** Host devices passed in (`podman --device`). */
  readonly devices: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  /** Root-only env file with the container's secret variables, if any. */
  readonly environmentFile?: string;
  readonly volumes: readonly {
    readonly source: string;
    readonly target: string;
    readonly readOnly: boolean;
    readonly ephemeral: boolean;
    /** The host's restic repository that backs it up instead of the nightly archive (backup.repositories.<name>). */
    readonly repository?: string;
  }[];
  /**
   * Directories that must be mounted before the container starts (its volumes): when the
   * filesystem that holds one is absent, the container does not start and write to the root disk.
   */
  readonly requiresMountsFor: readonly string[];
  /** Files homefleet renders and mounts read-only into the container. */
  readonly configMounts: readonly { readonly file: string; readonly target: string }[];
  readonly memoryMax: string;
  readonly cpuQuota: string;
  readonly restartPolicy: "on-failure" | "always";
  readonly restartDelaySec: number;
  readonly health: { readonly url: string; readonly timeoutSec: number; readonly intervalSec: number };
  /** Units the container cannot run without (its bridge network): stopping them stops it. */
  readonly requires: readonly string[];
  /**
   * Units the container starts after and reconnects to (database, cache). Wanted, not required:
   * Requires= would restart the container whenever a Redis or PostgreSQL config change restarts
   * them, and the container's readiness check already fails while they are down.
   */
  readonly wants: readonly string[];
  readonly cgroups: "enabled" | "disabled";
}

export interface DatabaseSpec {
  readonly name: string;
  readonly user: string;
  readonly passwordSecret: string;
  /** Where the deployer writes the password for the role-setup unit's LoadCredential. */
  readonly passwordFile: string;
  /** Client addresses allowed to log in with scram-sha-256. */
  readonly clientCidrs: readonly string[];
  /** The role also logs in over the Unix socket by peer authentication (a native service whose system user is the role). */
  readonly localPeer?: boolean;
}

export interface CacheSpec {
  readonly name: string;
  readonly port: number;
  readonly bind: readonly string[];
  readonly maxMemory: string;
  readonly maxMemoryPolicy: string;
  readonly appendOnly: boolean;
  readonly appendFsync: string;
  readonly save: readonly (readonly [number, number])[];
  readonly passwordSecret: string;
  /** Raw password file (NixOS `requirePassFile`). */
  readonly passwordFile: string;
  /** `requirepass` line for Debian's redis-server, loaded through LoadCredential. */
  readonly authConfFile: string;
}

/**
 * A service of the host's distribution that a stack runs instead of a container: a nixpkgs module
 * (NixOS) or a Debian package (plain systemd), whose units homefleet orders, limits, backs up,
 * monitors and reviews without writing them (model/nativeCatalogue.ts).
 */
export interface NativeServiceSpec {
  /** The catalogue name, e.g. `grafana`. */
  readonly service: string;
  readonly title: string;
  /** The unit the health gate and the review treat as the service (its timer, for a timer-driven service). */
  readonly unit: string;
  /** Every unit of the service on this flavour, the main one first; `start`: enabled and started by a deployment. */
  readonly units: readonly { readonly name: string; readonly start: boolean }[];
  /** NixOS: the module's option path, e.g. `services.grafana`. */
  readonly module?: readonly string[];
  /**
   * NixOS: the values written under the module path, homefleet's first (enable, port, address,
   * database), then the config's options merged over them. JSON values only.
   */
  readonly options: Readonly<Record<string, unknown>>;
  /** NixOS: options that take a package function, as `<option> = ps: [ ps.<name> ... ]`. */
  readonly packageFunctions: Readonly<Record<string, readonly string[]>>;
  /** Debian: the package that provides the units (installed by the deployment). */
  readonly package?: string;
  /** Where it listens, when it serves a port. */
  readonly listen?: { readonly address: string; readonly port: number; readonly protocol: "tcp" | "udp" };
  readonly health?: { readonly url: string; readonly timeoutSec: number; readonly intervalSec: number };
  /** Directories archived nightly (its state and the config's dataDirs); empty when backup is off. */
  readonly dataDirs: readonly string[];
  /** RequiresMountsFor= of its service units (the config's mounts and dataDirs). */
  readonly requiresMountsFor: readonly string[];
  /** Units its service units start after and want (the stack's database role, its cache). */
  readonly after: readonly string[];
  readonly wants: readonly string[];
  /** LoadCredential= of its main service unit (the database password). */
  readonly credentials: readonly { readonly name: string; readonly path: string }[];
  readonly memoryMax?: string;
  readonly cpuQuota?: string;
}

export interface StackModel {
  readonly name: string;
  readonly host: string;
  readonly kind: "container" | "litellm";
  /** A native stack has no network of its own (mode `none`): it runs on the host's. */
  readonly network: NetworkSpec;
  /** Exactly one of container and native. */
  readonly container?: ContainerSpec;
  readonly native?: NativeServiceSpec;
  readonly database?: DatabaseSpec;
  readonly cache?: CacheSpec;
  /** LiteLLM's config.yaml as data, and where it lives on the host (secrets as `os.environ/NAME`). */
  readonly litellmConfig?: { readonly path: string; readonly document: Readonly<Record<string, unknown>> };
  readonly secretFiles: readonly SecretFileSpec[];
  readonly generatedSecrets: readonly GeneratedSecretSpec[];
  /** homefleet's own setup units of the stack, the same on both flavours: its bridge, its database and role. */
  readonly setupUnits: readonly ServiceUnitSpec[];
  /** Pulumi config keys whose secret values feed the stack (provider API keys). */
  readonly configSecrets: readonly string[];
  readonly healthChecks: readonly HealthCheckSpec[];
  readonly listeners: readonly ListenerSpec[];
  /** The container's own metrics endpoint, where the host publishes it (stacks.<s>.metrics, litellm.prometheusMetrics). */
  readonly metrics?: StackMetricsSpec;
  readonly warnings: readonly string[];
}

/** A container's metrics endpoint as the host publishes it; the Prometheus side decides the address it scrapes. */
export interface StackMetricsSpec {
  /** The published address (0.0.0.0: every address of the host). */
  readonly address: string;
  readonly hostPort: number;
  readonly path: string;
  /** Where the config sets it. */
  readonly configPath: string;
}

export interface PostgresServerSpec {
  readonly version: number;
  readonly port: number;
  readonly listenAddresses: readonly string[];
  /** Bridge interfaces whose gateway addresses PostgreSQL binds: it must start after them (seed 001). */
  readonly bindInterfaces: readonly string[];
  readonly settings: Readonly<Record<string, string | number>>;
  readonly databases: readonly DatabaseSpec[];
}

export interface HostModel {
  readonly name: string;
  readonly os: HostOs;
  readonly arch: HostArch;
  readonly address: string;
  readonly sshPort: number;
  readonly sshUser: string;
  readonly hostKey?: string;
  readonly postgres?: PostgresServerSpec;
  readonly stacks: readonly StackModel[];
  /** Distribution units homefleet replaces and keeps disabled (Debian's default redis-server). */
  readonly disabledUnits: readonly string[];
  /** Debian packages the host needs (systemd flavour). */
  readonly packages: readonly string[];
  /** Backups, certificates, exporters: what keeps the stacks alive. */
  readonly operations: HostOperations;
  /** Host-level secret files (restic password and environment). */
  readonly secretFiles: readonly SecretFileSpec[];
  /** Pulumi config keys whose secret values feed host-level secret files. */
  readonly configSecrets: readonly string[];
  /** Set on the host that runs Prometheus. */
  readonly prometheus?: PrometheusSpec;
  /**
   * Exporter ports another host's Prometheus scrapes over the network, and its address: the
   * host's firewall (NixOS) opens exactly these ports to exactly that address.
   */
  readonly scrapedBy?: { readonly address: string; readonly ports: readonly number[] };
  /** Alertmanager, on the Prometheus host when homefleet:monitoring.alertmanager is set. */
  readonly alertmanager?: AlertmanagerSpec;
  /** nginx in front of the host's stacks. */
  readonly proxy?: ProxySpec;
  /** What the fleet's Prometheus scrapes on this host beyond homefleet's exporters (containers' own metrics, exporters homefleet does not run). */
  readonly scrapeTargets?: readonly ScrapeTargetSpec[];
  /** Grafana, on the Prometheus host when homefleet:monitoring.grafana is set (NixOS only). */
  readonly grafana?: GrafanaSpec;
  /**
   * Every unit homefleet writes or configures on the host, with what it reads and how it is
   * ordered: what the deployer restarts and the review checks, without reading rendered text.
   */
  readonly units: readonly HostUnitSpec[];
  readonly warnings: readonly string[];
}

/**
 * One unit on a host as homefleet knows it from the model. The renderers print the same facts;
 * the bundle reads `start`, `reads` and `secretFiles` (what a change restarts), the review the
 * ordering and the settings it checks.
 */
export interface HostUnitSpec {
  /** Full unit name, e.g. `podman-litellm.service`, `homefleet-backup-config.timer`. */
  readonly name: string;
  /**
   * `homefleet`: homefleet declares the unit (its unit file, or on NixOS its systemd.services,
   * container or Redis server entry); `distribution`: a unit of a Debian package or a nixpkgs
   * module that homefleet configures (settings, drop-in).
   */
  readonly source: "homefleet" | "distribution";
  /** The stack the unit belongs to, if any. */
  readonly stack?: string;
  readonly after: readonly string[];
  readonly before: readonly string[];
  readonly requires: readonly string[];
  readonly wants: readonly string[];
  readonly partOf: readonly string[];
  /** Enabled and started by a deployment (long-running and setup units, timers, the packaged units homefleet configures). */
  readonly start: boolean;
  /**
   * Rendered files the unit reads, its own unit file and drop-ins included (plain systemd hosts;
   * on NixOS the switch decides what restarts): a change restarts a started unit.
   */
  readonly reads: readonly string[];
  /** Secret files it reads at start (LoadCredential=, EnvironmentFile=, podman --env-file, NixOS password files). */
  readonly secretFiles: readonly string[];
  /** Non-secret Environment= settings. */
  readonly environment: Readonly<Record<string, string>>;
  /** Every argument its commands get (user-set values included): the review looks for secret paths in them. */
  readonly arguments: readonly string[];
  /** Resource limits of the unit (containers). */
  readonly memoryMax?: string;
  readonly cpuQuota?: string;
  /** False when the unit sets DefaultDependencies=no (it may start before local filesystems). */
  readonly defaultDependencies: boolean;
}

/** nginx in front of a host's stacks (homefleet:hosts.<host>.proxy). */
export interface ProxySpec {
  readonly unit: string;
  /** Ports 80 and 443 on this address. */
  readonly listenAddress: string;
  readonly vhosts: readonly {
    readonly name: string;
    readonly domains: readonly string[];
    readonly certificate: string;
    readonly certFile: string;
    readonly keyFile: string;
    /** `http://address:port[/path]`. */
    readonly upstream: string;
    readonly maxBodySize: string;
    readonly websockets: boolean;
    readonly readTimeoutSec: number;
  }[];
  /** Per HTTP-01 responder port, the certificates answering there and their names: /.well-known/acme-challenge/ of those names goes to that port. */
  readonly challenges: readonly { readonly certificates: readonly string[]; readonly domains: readonly string[]; readonly port: number }[];
}

export interface FleetModel {
  readonly hosts: readonly HostModel[];
}

// ---------------------------------------------------------------------------------------------
// Units homefleet writes itself, the same on both flavours
/*
 * Flavour-neutral units that homefleet writes itself (backups, certificate renewal, exporters,
 * checks). One spec renders to a Debian unit file and to a NixOS `systemd.services.<name>`
 * attribute set, so both flavours run the same command with the same hardening, and the
 * exposure score measured on the unit file holds for both.
 */

/** A program on the host: a homefleet script by name, or a packaged binary. */
export type ProgramRef =
  | { readonly script: string }
  | {
      /** Absolute path on Debian, e.g. /usr/bin/prometheus-node-exporter. */
      readonly debian: string;
      /** nixpkgs attribute and binary, e.g. { pkg: "prometheus-node-exporter", bin: "node_exporter" }. */
      readonly nix: { readonly pkg: string; readonly bin: string };
    }
  /** A user's program (a scheduled job), given for the flavours the config names: the printer of a missing one refuses. */
  | { readonly debian?: string; readonly nix?: { readonly pkg: string; readonly bin: string } };

export interface ExecSpec {
  readonly program: ProgramRef;
  readonly args: readonly string[];
  /** `-`: a failure does not fail the unit. */
  readonly ignoreFailure?: boolean;
  /** `+`: runs as root without the unit's sandbox (only for a step that needs it, e.g. creating its directories). */
  readonly privileged?: boolean;
}

export interface ServiceUnitSpec {
  /** Unit name without `.service`. */
  readonly name: string;
  /** The stack the unit serves, if it serves one. */
  readonly stack?: string;
  readonly description: string;
  /** What the unit is, for the file's first comment line (`Managed by homefleet: <summary>.`). */
  readonly summary?: string;
  readonly type: "oneshot" | "simple" | "notify" | "exec";
  /** A oneshot setup unit that stays active after its command ran (a bridge, a database role). */
  readonly remainAfterExit?: boolean;
  readonly user?: string;
  readonly group?: string;
  /** Several only for oneshot units: they run in order, and the first failure stops the rest. */
  readonly execStart: readonly ExecSpec[];
  readonly execStartPre?: readonly ExecSpec[];
  readonly execStartPost?: readonly ExecSpec[];
  /** Runs after the main command ended, whatever its outcome (systemd passes SERVICE_RESULT and EXIT_STATUS). */
  readonly execStopPost?: readonly ExecSpec[];
  /** LoadCredential=NAME:PATH, the way secrets reach a unit (never Environment=). */
  readonly credentials?: readonly { readonly name: string; readonly path: string }[];
  /** Root-only files systemd reads before dropping privileges. */
  readonly environmentFiles?: readonly string[];
  /** Non-secret environment. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly after?: readonly string[];
  readonly before?: readonly string[];
  readonly requires?: readonly string[];
  /** Stopped and restarted with these units. */
  readonly partOf?: readonly string[];
  readonly wants?: readonly string[];
  readonly wantedBy?: readonly string[];
  /**
   * Directories whose filesystem must be mounted first (RequiresMountsFor=): a backup directory
   * on a pool that is absent fails the job instead of filling the root disk.
   */
  readonly requiresMountsFor?: readonly string[];
  /** Directories the unit may write; everything else is read-only (ProtectSystem=strict). */
  readonly readWritePaths?: readonly string[];
  readonly stateDirectory?: string;
  readonly hardening: HardeningDirectives;
  /** Other [Service] settings: Restart, RestartSec, TimeoutStartSec, Nice, IOSchedulingClass, ... */
  readonly service?: Readonly<Record<string, string | number>>;
  /** Comment lines: why the unit exists. */
  readonly why: readonly string[];
}

export interface TimerSpec {
  /** Timer name without `.timer`; it starts the service of the same name. */
  readonly name: string;
  readonly description: string;
  /** systemd calendar expression, e.g. `*-*-* 02:00:00`. */
  readonly onCalendar: string;
  /** Catch up on a run missed while the host was off (seed 001). */
  readonly persistent: boolean;
  /** Spreads load across hosts; kept below the gap to the next job of the host. */
  readonly randomizedDelaySec: number;
  /** The setting that places this timer, where the review points (`homefleet:hosts.<h>.backup.schedule`, `…certificates`, a job's `…jobs.<name>`). */
  readonly configPath?: string;
}

export interface OperationsUnits {
  readonly services: readonly ServiceUnitSpec[];
  readonly timers: readonly TimerSpec[];
}

// ---------------------------------------------------------------------------------------------
// Operations: backups, certificates, exporters

export interface ExporterSpec {
  readonly kind: "node" | "postgres" | "redis" | "blackbox" | PackagedExporter;
  readonly address: string;
  readonly port: number;
  /** For redis: the stack whose cache it watches. */
  readonly stack?: string;
}

/** A backup job; its service and timer carry the job's name. */
export interface BackupJobSpec {
  /** Unit name without suffix, e.g. `homefleet-backup-postgresql`. */
  readonly job: string;
  readonly kind: "postgresql" | "redis" | "config" | "volumes" | "offsite" | "repository";
  /** A repository's name (backup.repositories.<name>), for kind repository. */
  readonly repository?: string;
  /**
   * It carries backup.dir (the off-site copy; a repository whose paths hold it): it is ordered
   * after the night's local backups, and its timer must start after their windows.
   */
  readonly carriesLocalBackups?: boolean;
  /** The stack whose data it saves, when it saves one stack's data. */
  readonly stack?: string;
  /** What it saves: databases, a data directory, paths. */
  readonly saves: readonly string[];
  /** Where it writes: a directory on the host or a restic repository. */
  readonly destination: string;
  /** How long its artifacts are kept, in words. */
  readonly retention: string;
  /** Its timer's calendar expression, once placed. */
  readonly onCalendar: string;
  /** The repository's integrity check (job and calendar): the off-site one's, or a repository's when it has a checkCalendar. */
  readonly check?: { readonly job: string; readonly onCalendar: string };
}

/** A certificate homefleet renews and checks. */
export interface CertificateSpec {
  readonly name: string;
  readonly issuer: "acme" | "step-ca";
  readonly domains: readonly string[];
  readonly certFile: string;
  /** The renewal job (unit name without suffix) and when its timer fires. */
  readonly renewal: { readonly job: string; readonly onCalendar: string };
  /** The unit a renewal reloads, if any. */
  readonly reloadUnit?: string;
  /** The daily validation job shared by the host's certificates, and when it runs. */
  readonly check: { readonly job: string; readonly onCalendar: string };
}

/** A directory homefleet creates (systemd-tmpfiles `d`). */
export interface DirectorySpec {
  readonly path: string;
  readonly mode: string;
  readonly user: string;
  readonly group: string;
}

export interface HostOperations {
  readonly services: readonly ServiceUnitSpec[];
  readonly timers: readonly TimerSpec[];
  readonly directories: readonly DirectorySpec[];
  readonly exporters: readonly ExporterSpec[];
  /** URLs the blackbox exporter probes (every HTTP health endpoint on the host). */
  readonly probes: readonly { readonly stack: string; readonly kind: "container" | "litellm"; readonly url: string }[];
  readonly certificates: readonly CertificateSpec[];
  /** The backup jobs, as users think of them (what, where, when, how long kept). */
  readonly backups: readonly BackupJobSpec[];
  /** Scheduled jobs from config (homefleet:hosts.<host>.jobs): each a service and a timer of the job's name, also among services and timers. */
  readonly jobs: readonly { readonly name: string; readonly service: ServiceUnitSpec; readonly timer: TimerSpec }[];
}

// ---------------------------------------------------------------------------------------------
// Monitoring

export interface PrometheusSpec {
  readonly scrapeInterval: string;
  readonly retention: string;
  readonly listenAddress: string;
  readonly port: number;
  /** Scrape jobs in Prometheus' own configuration format (shared by both flavours). */
  readonly scrapeConfigs: readonly Record<string, unknown>[];
  /** Exporters the Prometheus host cannot reach (listening on another host's loopback). */
  readonly unreachable: readonly string[];
  /** Alertmanager addresses (host:port) Prometheus sends alerts to; empty without one. */
  readonly alertmanagers: readonly string[];
  /** Targets beyond homefleet's exporters: containers' own metrics and the exporters homefleet does not run. */
  readonly extraTargets: readonly ScrapeTargetSpec[];
  /** The user's alert rule groups (homefleet:monitoring.rules), rendered into their own file; empty without any. */
  readonly userRuleGroups: readonly UserRuleGroupSpec[];
  /**
   * The fleet's native services' units, which the alert rules treat as homefleet's own
   * (HomefleetUnitFailed; HomefleetUnitInactive for those a deployment starts). Absent without any.
   */
  readonly nativeUnits?: { readonly all: readonly string[]; readonly started: readonly string[] };
}

/** One target Prometheus scrapes that is not one of homefleet's exporters. */
export interface ScrapeTargetSpec {
  /** The scrape job (its `job` label). */
  readonly job: string;
  /** The host it runs on. */
  readonly host: string;
  /** The stack whose container serves it, for a container's own metrics. */
  readonly stack?: string;
  /** `address:port`, as the Prometheus host reaches it. */
  readonly address: string;
  readonly path: string;
  readonly scheme: "http" | "https";
  /** Where the config sets it. */
  readonly configPath: string;
}

export interface UserRuleGroupSpec {
  readonly name: string;
  readonly rules: readonly { readonly alert: string; readonly expr: string; readonly for?: string; readonly labels: Readonly<Record<string, string>>; readonly annotations: Readonly<Record<string, string>> }[];
}

/** Grafana on the Prometheus host: its listener, its secrets by file, and what it is provisioned with. */
export interface GrafanaSpec {
  readonly unit: string;
  readonly listenAddress: string;
  readonly port: number;
  readonly domain?: string;
  readonly adminUser: string;
  /** LoadCredential name → root-only secret file; Grafana reads them as `$__file{/run/credentials/...}`. */
  readonly credentials: readonly { readonly name: string; readonly path: string }[];
  /** The credential files' paths as Grafana reads them, by setting. */
  readonly credentialFiles: { readonly adminPassword: string; readonly secretKey: string };
  readonly secretFiles: readonly SecretFileSpec[];
  readonly configSecrets: readonly string[];
  /** The provisioned Prometheus datasource. */
  readonly datasource: { readonly name: string; readonly uid: string; readonly url: string };
  /** One dashboard per stack of the fleet: file name and the dashboard document. */
  readonly dashboards: readonly { readonly stack: string; readonly file: string; readonly document: Readonly<Record<string, unknown>> }[];
}

/** Alertmanager on the Prometheus host. */
export interface AlertmanagerSpec {
  /** The unit that runs it: Debian's packaged one, or nixpkgs'. */
  readonly unit: string;
  readonly listenAddress: string;
  readonly port: number;
  /** Receiver credentials: LoadCredential name → root-only secret file (the unit reads them as its own). */
  readonly credentials: readonly { readonly name: string; readonly path: string }[];
  readonly secretFiles: readonly SecretFileSpec[];
  /** Config keys whose secret values the secret files hold. */
  readonly configSecrets: readonly string[];
  /** Alertmanager's own configuration (alertmanager.yml), the same on both flavours. */
  readonly config: Record<string, unknown>;
}
