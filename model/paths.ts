/**
 * Where things live on a host, and what units are called, in one place for both flavours.
 * Unit names are the same on NixOS and Debian wherever the flavour lets us choose, so reviews,
 * health checks and operators' habits carry over between them.
 */

/** Root-only, persistent across reboots (not /run), outside the world-readable Nix store. */
export const SECRETS_ROOT = "/var/lib/homefleet/secrets";
/** Non-secret config files homefleet writes for services (mounted read-only into containers). */
export const CONFIG_ROOT = "/etc/homefleet";
/** Scripts on Debian hosts; on NixOS they become `writeShellApplication` store paths. */
export const SCRIPT_DIR = "/usr/local/lib/homefleet";
/** Unit files on Debian hosts: the administrator's directory, which overrides /lib. */
export const UNIT_DIR = "/etc/systemd/system";
/** NixOS modules; the host's configuration.nix imports `./homefleet`. */
export const NIXOS_MODULE_DIR = "/etc/nixos/homefleet";

/** `podman-x.service` → `podman-x`: the name a ServiceUnitSpec and a NixOS `systemd.services` attribute take. */
export const serviceName = (unit: string) => unit.replace(/\.service$/, "");

export const units = {
  container: (stack: string) => `podman-${stack}.service`,
  network: (stack: string) => `homefleet-network-${stack}.service`,
  databaseRole: (stack: string) => `homefleet-postgresql-${stack}.service`,
  cache: (stack: string) => `redis-${stack}.service`,
  redisExporter: (stack: string) => `homefleet-redis-exporter-${stack}.service`,
  postgres: (os: "nixos" | "systemd", version: number) => (os === "nixos" ? "postgresql.service" : `postgresql@${version}-main.service`),
  /** The packaged exporters (node, postgres, blackbox and those run on request): Debian's and nixpkgs' units have the same names. */
  exporter: (kind: string) => `prometheus-${kind}-exporter.service`,
  prometheus: () => "prometheus.service",
  alertmanager: (os: "nixos" | "systemd") => (os === "nixos" ? "alertmanager.service" : "prometheus-alertmanager.service"),
  /** The reverse proxy: Debian's package and nixpkgs' module name it alike. */
  nginx: () => "nginx.service",
  /** A restic repository of the host (backup.repositories.<name>): its backup job, and its check (a prefix of its own, so no name's check is another name's job). */
  backupRepository: (name: string) => `homefleet-backup-repository-${name}.service`,
  checkRepository: (name: string) => `homefleet-check-repository-${name}.service`,
  /** Grafana, nixpkgs' unit. */
  grafana: () => "grafana.service",
  /** Device unit of a network interface: ordering after it is what fixed seed 001's podman0 race. */
  device: (iface: string) => `sys-subsystem-net-devices-${iface.replace(/-/g, "\\x2d")}.device`,
};

export const secretPaths = {
  dir: (stack: string) => `${SECRETS_ROOT}/${stack}`,
  containerEnv: (stack: string) => `${SECRETS_ROOT}/${stack}/container.env`,
  databasePassword: (stack: string) => `${SECRETS_ROOT}/${stack}/database-password`,
  cachePassword: (stack: string) => `${SECRETS_ROOT}/${stack}/cache-password`,
  cacheAuthConf: (stack: string) => `${SECRETS_ROOT}/${stack}/cache-auth.conf`,
  redisExporterEnv: (stack: string) => `${SECRETS_ROOT}/${stack}/redis-exporter.env`,
  resticPassword: () => `${SECRETS_ROOT}/backup/restic-password`,
  resticEnv: () => `${SECRETS_ROOT}/backup/restic.env`,
  /** A repository's password and secret environment (backup.repositories.<name>). */
  repositoryPassword: (name: string) => `${SECRETS_ROOT}/backup/repositories/${name}/password`,
  repositoryEnv: (name: string) => `${SECRETS_ROOT}/backup/repositories/${name}/restic.env`,
  /** A scheduled job's secret environment (EnvironmentFile=). */
  jobEnv: (job: string) => `${SECRETS_ROOT}/jobs/${job}.env`,
  /** A receiver's credential for Alertmanager (read through LoadCredential). */
  alertmanager: (credential: string) => `${SECRETS_ROOT}/alertmanager/${credential}`,
  /** Grafana's admin password and secret key (read through LoadCredential). */
  grafana: (credential: string) => `${SECRETS_ROOT}/grafana/${credential}`,
};

export const configPaths = {
  litellm: (stack: string) => `${CONFIG_ROOT}/${stack}/litellm-config.yaml`,
  redis: (stack: string) => `${CONFIG_ROOT}/${stack}/redis.conf`,
  postgresConfD: (version: number) => `/etc/postgresql/${version}/main/conf.d/50-homefleet.conf`,
  postgresHba: (version: number) => `/etc/postgresql/${version}/main/pg_hba.conf`,
  /** podman's own definition of a stack's network. */
  podmanNetwork: (network: string) => `/etc/containers/networks/${network}.json`,
};

/** The rules file Prometheus loads (beside prometheus.yml on Debian, in the module directory on NixOS). */
export const PROMETHEUS_RULES_FILE = "homefleet-rules.yml";
/** The user's own rules (homefleet:monitoring.rules), beside homefleet's. */
export const PROMETHEUS_USER_RULES_FILE = "homefleet-user-rules.yml";

/**
 * Files of Debian's packaged units that homefleet writes: their /etc/default environment files
 * (read as EnvironmentFile= by the package's unit), configuration, and homefleet's drop-ins.
 */
export const debianPaths = {
  unitFile: (unit: string) => `${UNIT_DIR}/${unit}`,
  dropIn: (unit: string) => `${UNIT_DIR}/${unit}.d/50-homefleet.conf`,
  defaults: (unit: string) => `/etc/default/${serviceName(unit)}`,
  blackboxConfig: "/etc/prometheus/blackbox.yml",
  prometheusConfig: "/etc/prometheus/prometheus.yml",
  prometheusRules: `/etc/prometheus/${PROMETHEUS_RULES_FILE}`,
  prometheusUserRules: `/etc/prometheus/${PROMETHEUS_USER_RULES_FILE}`,
  alertmanagerConfig: "/etc/prometheus/alertmanager.yml",
  /** Included by the packaged nginx.conf (conf.d/*.conf). */
  nginxProxy: "/etc/nginx/conf.d/homefleet-proxy.conf",
};

/**
 * How a unit that listens on a stack's bridge gateway is ordered (seed 001's podman0 race):
 * after the bridge setup unit and the bridge's device, requiring only the setup unit. The device
 * is only wanted: device units do not exist inside containers, and Requires= on one fails there.
 */
export function bridgeOrdering(stacks: readonly { name: string; network: { mode: string; interface?: string } }[]): { after: string[]; requires: string[]; wants: string[] } {
  const bridged = stacks.filter((s) => s.network.mode === "bridge");
  const requires = bridged.map((s) => units.network(s.name));
  const wants = bridged.map((s) => units.device(s.network.interface as string));
  return { after: bridged.flatMap((s, i) => [requires[i], wants[i]]), requires, wants };
}
