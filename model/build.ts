/**
 * Validated config → fleet model. Defaults that depend on more than one key (addresses derived
 * from the subnet, PostgreSQL listen addresses gathered from every stack on a host) are resolved
 * here, once, so both renderers see the same answer.
 */
import type { FleetConfig } from "../config/load";
import { ConfigError } from "../config/load";
import { bridgeGateway, linkAddress, linkEnvPrefix, networkNames } from "../config/reserved";
import type { HostConfig, StackConfig } from "../config/schema";
import { buildLiteLLMDocument, LITELLM_PORT, LITELLM_READINESS_PATH } from "./litellm";
import { buildAlertmanager, buildPrometheus } from "./monitoring";
import { buildGrafana } from "./grafana";
import { EXPORTER_CATALOG } from "./exporterCatalog";
import { buildHostOperations, isLoopback } from "./operations";
import { buildHostUnits } from "./hostUnits";
import { buildProxy } from "./proxy";
import { configPaths, secretPaths, serviceName, units } from "./paths";
import { compareText } from "./textOrder";
import type {
  CacheSpec,
  ContainerSpec,
  DatabaseSpec,
  FleetModel,
  GeneratedSecretSpec,
  HealthCheckSpec,
  HostModel,
  ListenerSpec,
  NetworkSpec,
  SecretFileSpec,
  SecretPart,
  ServiceUnitSpec,
  StackMetricsSpec,
  StackModel,
} from "./specs";
import { anchorInterface } from "./specs";
import { buildNativeStack } from "./native";
import { databaseRoleUnit, stackStores } from "./stores";
import { hardening } from "./hardening";

/** Debian bookworm ships PostgreSQL 15; NixOS 25.05 defaults new systems to 16. */
const DEFAULT_PG_VERSION = { systemd: 15, nixos: 16 } as const;


function buildNetwork(name: string, stack: StackConfig, linkedTo: boolean): NetworkSpec {
  const names = networkNames(name, stack.network);
  if (stack.network.mode === "host") return { mode: "host", name: names.name };
  const subnet = stack.network.subnet as string;
  return {
    mode: "bridge",
    name: names.name,
    subnet,
    gateway: bridgeGateway(subnet),
    interface: names.interface,
    ...(linkedTo ? { linkedAddress: linkAddress(subnet) } : {}),
  };
}

/**
 * The bridge of a stack's podman network, created by homefleet before the network is up (podman
 * would create it only with the first container, after the services that listen on its gateway).
 */
function bridgeUnit(stack: string, net: NetworkSpec): ServiceUnitSpec {
  const prefix = (net.subnet as string).split("/")[1];
  return {
    name: serviceName(units.network(stack)),
    stack,
    description: `homefleet bridge ${net.interface} for podman network ${net.name}`,
    summary: `bridge ${net.interface} of podman network ${net.name} (stack ${stack})`,
    why: [],
    type: "oneshot",
    remainAfterExit: true,
    execStart: [{ program: { script: "homefleet-network" }, args: [net.interface as string, `${net.gateway}/${prefix}`, anchorInterface(net.interface as string)] }],
    after: ["network-pre.target"],
    before: ["network.target"],
    wantedBy: ["multi-user.target"],
    hardening: hardening.bridgeSetup,
  };
}

/** The port a stack's container listens on inside its network (what a linked container connects to). */
function containerPortOf(stack: StackConfig): number {
  return stack.container!.port ?? LITELLM_PORT;
}

/** The address containers use to reach host services: the bridge gateway, or loopback on host networking. */
function hostServiceAddress(network: NetworkSpec): string {
  return network.mode === "bridge" ? (network.gateway as string) : "127.0.0.1";
}

/** `linkedTo`: another stack links to this one. */
function buildStack(name: string, stack: StackConfig, host: HostConfig, os: HostModel["os"], pgVersion: number, allStacks: Readonly<Record<string, StackConfig>>, linkedTo: boolean): StackModel {
  if (stack.native) return buildNativeStack(name, stack, host, os, pgVersion);
  const containerConfig = stack.container!;
  const network = buildNetwork(name, stack, linkedTo);
  const serviceAddress = hostServiceAddress(network);
  const warnings: string[] = [];
  if (network.mode === "host") {
    warnings.push(`stack ${name}: network.mode host gives the container the host's network stack (no isolation from the host); prefer a bridge network`);
  }
  const generated: GeneratedSecretSpec[] = [];
  const secretFiles: SecretFileSpec[] = [];
  const requires: string[] = [];
  if (network.mode === "bridge") requires.push(units.network(name));
  const wants: string[] = [];

  const stores = stackStores(name, stack, os, network);
  const { database, cache } = stores;
  generated.push(...stores.generated);
  secretFiles.push(...stores.secretFiles);
  wants.push(...stores.wants);

  const secretValue = (ref: string): SecretPart[] => {
    switch (ref) {
      case "database.password":
        return [{ secret: (database as DatabaseSpec).passwordSecret }];
      case "database.url": {
        const db = database as DatabaseSpec;
        return [`postgresql://${db.user}:`, { secret: db.passwordSecret, encode: "uri" }, `@${serviceAddress}:${host.postgresql.port}/${db.name}`];
      }
      case "cache.password":
        return [{ secret: (cache as CacheSpec).passwordSecret }];
      case "cache.url":
        return ["redis://:", { secret: (cache as CacheSpec).passwordSecret, encode: "uri" }, `@${serviceAddress}:${(cache as CacheSpec).port}/0`];
      case "litellm.masterKey":
        // LiteLLM requires master keys to start with "sk-".
        return ["sk-", { secret: `${name}/litellm-master-key` }];
      default:
        return [{ secret: `config/${ref.slice("config:".length)}` }];
    }
  };

  const secretEnv: Record<string, string> = { ...containerConfig.secretEnvironment };
  let litellmConfig: StackModel["litellmConfig"];
  const configMounts: ContainerSpec["configMounts"][number][] = [];
  const configSecrets = new Set<string>();
  if (stack.kind === "litellm" && stack.litellm) {
    generated.push({ id: `${name}/litellm-master-key`, description: `LiteLLM master key (stack ${name})`, length: 48 });
    secretEnv.LITELLM_MASTER_KEY ??= "litellm.masterKey";
    if (database) secretEnv.DATABASE_URL ??= "database.url";
    if (cache) secretEnv.REDIS_PASSWORD ??= "cache.password";
    const { document, apiKeyEnv } = buildLiteLLMDocument(stack.litellm, cache ? { host: serviceAddress, port: cache.port } : undefined, !!database);
    for (const [envVar, configKey] of Object.entries(apiKeyEnv)) secretEnv[envVar] ??= `config:${configKey}`;
    litellmConfig = { path: configPaths.litellm(name), document };
    configMounts.push({ file: litellmConfig.path, target: "/app/config.yaml" });
  }
  for (const ref of Object.values(secretEnv)) if (ref.startsWith("config:")) configSecrets.add(ref.slice("config:".length));

  const envEntries = Object.keys(secretEnv)
    .sort()
    .map((envName) => ({ name: envName, parts: secretValue(secretEnv[envName]) }));
  const environmentFile = envEntries.length ? secretPaths.containerEnv(name) : undefined;
  if (environmentFile) secretFiles.push({ path: environmentFile, owner: "root", group: "root", mode: "0400", format: "env", entries: envEntries });

  const containerPort = containerPortOf(stack);
  const publishPort = containerConfig.publish?.hostPort ?? containerPort;
  const publishAddress = containerConfig.publish?.address ?? "127.0.0.1";
  const healthPath = containerConfig.healthCheck?.path ?? LITELLM_READINESS_PATH;
  const probeAddress = publishAddress === "0.0.0.0" ? "127.0.0.1" : publishAddress;
  const health = {
    url: `http://${probeAddress}:${publishPort}${healthPath}`,
    timeoutSec: containerConfig.healthCheck?.timeoutSec ?? 180,
    intervalSec: containerConfig.healthCheck?.intervalSec ?? 5,
  };
  const command = containerConfig.command ?? (stack.kind === "litellm" ? ["--config", "/app/config.yaml", "--port", String(containerPort)] : []);
  const environment = { ...containerConfig.environment };
  // Links: the container joins each linked stack's bridge and reaches its container at the fixed
  // address there, by name through /etc/hosts or by the <PREFIX>_HOST/_PORT variables. It starts
  // after that container and wants it (a restart of the target does not stop this one), and it
  // cannot run without the bridge.
  const networks: ContainerSpec["networks"][number][] = network.mode === "bridge" ? [{ name: network.name, ...(network.linkedAddress ? { ip: network.linkedAddress } : {}) }] : [];
  const hostEntries: ContainerSpec["hostEntries"][number][] = [];
  for (const link of stack.links) {
    const target = allStacks[link.stack];
    const targetNet = buildNetwork(link.stack, target, true);
    const address = targetNet.linkedAddress as string;
    networks.push({ name: targetNet.name });
    hostEntries.push({ name: link.stack, address });
    const prefix = linkEnvPrefix(link);
    environment[`${prefix}_HOST`] = address;
    environment[`${prefix}_PORT`] = String(containerPortOf(target));
    requires.push(units.network(link.stack));
    wants.push(units.container(link.stack));
  }
  const published = network.mode === "bridge"
    ? [
        { address: publishAddress, hostPort: publishPort, containerPort, protocol: "tcp" as const },
        ...containerConfig.ports.map((p) => ({ address: p.address, hostPort: p.hostPort ?? p.container, containerPort: p.container, protocol: p.protocol })),
      ]
    : [];
  const container: ContainerSpec = {
    name,
    image: containerConfig.image,
    command,
    containerPort,
    publishAddress,
    publishPort,
    published,
    networks,
    hostEntries,
    devices: containerConfig.devices,
    environment,
    environmentFile,
    volumes: containerConfig.volumes,
    requiresMountsFor: [...new Set(containerConfig.volumes.map((v) => v.source))].sort(),
    configMounts,
    memoryMax: containerConfig.memoryMax,
    cpuQuota: containerConfig.cpuQuota,
    restartPolicy: containerConfig.restart.policy,
    restartDelaySec: containerConfig.restart.delaySec,
    health,
    requires,
    wants,
    cgroups: host.podman.cgroups,
  };

  const metrics = stackMetrics(name, stack, published, publishAddress, containerPort);

  const healthChecks: HealthCheckSpec[] = [];
  // On host networking nothing is published, yet the container listens on the host's main port.
  const listeners: ListenerSpec[] = published.length
    ? published.map((p) => ({ address: p.address, port: p.hostPort, protocol: p.protocol, owner: units.container(name) }))
    : [{ address: publishAddress, port: publishPort, protocol: "tcp", owner: units.container(name) }];
  if (cache) {
    healthChecks.push({ kind: "redis", unit: units.cache(name), host: "127.0.0.1", port: cache.port, timeoutSec: 60, passwordFile: cache.passwordFile });
    for (const address of cache.bind) listeners.push({ address, port: cache.port, protocol: "tcp", owner: units.cache(name) });
  }
  if (database) healthChecks.push({ kind: "postgres", unit: units.postgres(os, pgVersion), host: "127.0.0.1", port: host.postgresql.port, timeoutSec: 60 });
  healthChecks.push({ kind: "http", unit: units.container(name), url: health.url, timeoutSec: health.timeoutSec, intervalSec: health.intervalSec });

  const setupUnits: ServiceUnitSpec[] = [];
  if (network.mode === "bridge") setupUnits.push(bridgeUnit(name, network));
  if (database) setupUnits.push(databaseRoleUnit(name, database, units.postgres(os, pgVersion), host.postgresql.port));

  return {
    name,
    host: stack.host,
    kind: stack.kind,
    network,
    setupUnits,
    container,
    database,
    cache,
    litellmConfig,
    secretFiles,
    generatedSecrets: generated,
    configSecrets: [...configSecrets].sort(),
    healthChecks,
    listeners,
    ...(metrics ? { metrics } : {}),
    warnings,
  };
}

/**
 * Where the host publishes a container's metrics endpoint: the published port of the container
 * port that serves it (config checks that one is published), or on host networking the port itself.
 */
function stackMetrics(name: string, stack: StackConfig, published: readonly ContainerSpec["published"][number][], publishAddress: string, containerPort: number): StackMetricsSpec | undefined {
  const litellm = stack.kind === "litellm" && stack.litellm?.prometheusMetrics === true;
  if (!stack.metrics && !litellm) return undefined;
  // LiteLLM mounts its metrics app at /metrics/ (a request for /metrics is redirected there).
  const path = litellm ? "/metrics/" : stack.metrics!.path;
  const configPath = litellm ? `homefleet:stacks.${name}.litellm.prometheusMetrics` : `homefleet:stacks.${name}.metrics`;
  const port = stack.metrics?.port ?? containerPort;
  if (!published.length) return { address: publishAddress, hostPort: port, path, configPath };
  const p = published.find((x) => x.containerPort === port && x.protocol === "tcp") ?? published[0];
  return { address: p.address, hostPort: p.hostPort, path, configPath };
}

export function buildFleetModel(config: FleetConfig): FleetModel {
  const problems: { path: string; message: string }[] = [];
  const hosts: Omit<HostModel, "units">[] = [];
  // Once for the fleet, not once per host or per stack (quadratic in a large fleet).
  const stacksOf = new Map<string, string[]>();
  const linked = new Set<string>();
  for (const [name, stack] of Object.entries(config.stacks)) {
    const names = stacksOf.get(stack.host);
    if (names) names.push(name);
    else stacksOf.set(stack.host, [name]);
    for (const l of stack.links) linked.add(l.stack);
  }
  for (const hostName of Object.keys(config.hosts).sort()) {
    const host = config.hosts[hostName];
    const pgVersion = host.postgresql.version ?? DEFAULT_PG_VERSION[host.os];
    const stackNames = [...(stacksOf.get(hostName) ?? [])].sort();
    const stacks = stackNames.map((s) => buildStack(s, config.stacks[s], host, host.os, pgVersion, config.stacks, linked.has(s)));

    const interfaces = new Map<string, string>();
    for (const s of stacks) {
      const iface = s.network.interface;
      if (!iface) continue;
      const other = interfaces.get(iface);
      if (other) problems.push({ path: `homefleet:stacks.${s.name}.network.interface`, message: `bridge ${iface} is also used by stack ${other}; set network.interface` });
      interfaces.set(iface, s.name);
    }

    const databases = stacks.flatMap((s) => (s.database ? [s.database] : []));
    const bridges = stacks.filter((s) => s.database && s.network.mode === "bridge");
    const postgres = databases.length
      ? {
          version: pgVersion,
          port: host.postgresql.port,
          listenAddresses: ["127.0.0.1", ...bridges.map((s) => s.network.gateway as string)],
          bindInterfaces: bridges.map((s) => s.network.interface as string),
          settings: {
            ...host.postgresql.settings,
            // seed 000: scram-sha-256 for every password; `trust` is never written.
            password_encryption: "scram-sha-256",
          } as Record<string, string | number>,
          databases,
        }
      : undefined;
    if (postgres) for (const s of bridges) (s.listeners as ListenerSpec[]).push({ address: s.network.gateway as string, port: postgres.port, protocol: "tcp", owner: units.postgres(host.os, pgVersion) });

    const hasCache = stacks.some((s) => s.cache);
    const operations = buildHostOperations(hostName, host, host.os, stacks, postgres ? pgVersion : undefined);
    const offsite = host.backup.offsite;
    const hostSecretFiles: SecretFileSpec[] = [];
    const hostConfigSecrets: string[] = [];
    if (offsite) {
      hostSecretFiles.push({ path: secretPaths.resticPassword(), owner: "root", group: "root", mode: "0400", format: "raw", entries: [{ name: "password", parts: [{ secret: `config/${offsite.passwordConfig}` }] }] });
      hostConfigSecrets.push(offsite.passwordConfig);
      if (offsite.environmentConfig) {
        // The value is already NAME=value lines (e.g. AWS_ACCESS_KEY_ID=...); written as given.
        hostSecretFiles.push({ path: secretPaths.resticEnv(), owner: "root", group: "root", mode: "0400", format: "env-text", entries: [{ name: "environment", parts: [{ secret: `config/${offsite.environmentConfig}` }] }] });
        hostConfigSecrets.push(offsite.environmentConfig);
      }
    }
    // Each repository's password and environment in files of its own (two may share a config key).
    const repositories = host.backup.repositories ?? {};
    for (const name of Object.keys(repositories).sort(compareText)) {
      const repo = repositories[name];
      hostSecretFiles.push({ path: secretPaths.repositoryPassword(name), owner: "root", group: "root", mode: "0400", format: "raw", entries: [{ name: "password", parts: [{ secret: `config/${repo.passwordConfig}` }] }] });
      hostConfigSecrets.push(repo.passwordConfig);
      if (repo.environmentConfig) {
        hostSecretFiles.push({ path: secretPaths.repositoryEnv(name), owner: "root", group: "root", mode: "0400", format: "env-text", entries: [{ name: "environment", parts: [{ secret: `config/${repo.environmentConfig}` }] }] });
        hostConfigSecrets.push(repo.environmentConfig);
      }
    }
    // A job's secret environment: one root-only file per job, from secret config values.
    for (const [job, spec] of Object.entries(host.jobs)) {
      const names = Object.keys(spec.secretEnvironment).sort();
      if (!names.length) continue;
      hostSecretFiles.push({ path: secretPaths.jobEnv(job), owner: "root", group: "root", mode: "0400", format: "env", entries: names.map((env) => ({ name: env, parts: [{ secret: `config/${spec.secretEnvironment[env].slice("config:".length)}` }] })) });
      for (const env of names) hostConfigSecrets.push(spec.secretEnvironment[env].slice("config:".length));
    }
    // Both issuers order through lego (step-ca by its ACME provisioner).
    const hasAcme = Object.keys(host.certificates).length > 0;
    const packages =
      host.os === "systemd"
        ? [
            "curl",
            "podman",
            "netavark",
            "aardvark-dns",
            "iproute2",
            "jq",
            "openssl",
            "prometheus-node-exporter",
            ...(operations.probes.length ? ["prometheus-blackbox-exporter"] : []),
            ...(hasCache ? ["redis-server", "redis-tools", "prometheus-redis-exporter"] : []),
            ...(postgres ? [`postgresql-${pgVersion}`, "postgresql-client", "prometheus-postgres-exporter"] : []),
            ...(offsite || Object.keys(repositories).length ? ["restic"] : []),
            ...(hasAcme ? ["lego"] : []),
            ...(host.proxy ? ["nginx"] : []),
            // The packaged exporters run on request (config refuses one Debian does not package).
            ...(host.exporters ?? []).map((e) => EXPORTER_CATALOG[e].debian as string),
            ...(config.monitoring?.prometheusHost === hostName ? ["prometheus"] : []),
            // The Debian packages of the host's native services.
            ...new Set(stacks.flatMap((s) => (s.native?.package ? [s.native.package] : []))),
          ].sort()
        : [];
    hosts.push({
      name: hostName,
      os: host.os,
      arch: host.arch,
      address: host.address,
      sshPort: host.port,
      sshUser: host.user,
      hostKey: host.hostKey,
      postgres,
      stacks,
      proxy: buildProxy(host, stacks),
      // Debian's packaged instances would hold ports next to homefleet's own units
      // (redis-server on 6379; the redis exporter's single instance on 9121).
      disabledUnits: host.os === "systemd" && hasCache ? ["prometheus-redis-exporter.service", "redis-server.service"] : [],
      packages,
      operations,
      secretFiles: hostSecretFiles,
      configSecrets: [...new Set(hostConfigSecrets)],
      warnings: [],
    });
  }
  if (config.monitoring) {
    const prometheus = buildPrometheus(config.monitoring, hosts);
    const index = hosts.findIndex((h) => h.name === config.monitoring!.prometheusHost);
    const host = hosts[index];
    const alertmanager = config.monitoring.alertmanager ? buildAlertmanager(config.monitoring.alertmanager, host.os) : undefined;
    const grafana = config.monitoring.grafana ? buildGrafana(config.monitoring.grafana, prometheus, hosts) : undefined;
    hosts[index] = {
      ...host,
      prometheus,
      ...(grafana ? { grafana, secretFiles: [...host.secretFiles, ...grafana.secretFiles], configSecrets: [...host.configSecrets, ...grafana.configSecrets] } : {}),
      ...(alertmanager
        ? {
            alertmanager,
            secretFiles: [...(grafana ? [...host.secretFiles, ...grafana.secretFiles] : host.secretFiles), ...alertmanager.secretFiles],
            configSecrets: [...(grafana ? [...host.configSecrets, ...grafana.configSecrets] : host.configSecrets), ...alertmanager.configSecrets],
            packages: host.os === "systemd" ? [...host.packages, "prometheus-alertmanager"].sort() : host.packages,
          }
        : {}),
      warnings: [...host.warnings, ...prometheus.unreachable],
    };
    // Exporters on a LAN address are scraped from the Prometheus host: open them to it alone.
    const scraper = config.hosts[config.monitoring.prometheusHost].address;
    hosts.forEach((h, i) => {
      // The exporters homefleet does not run listen on the host too; a container's published port
      // needs no rule (podman forwards it before the NixOS firewall's input chain sees it).
      const onHost = prometheus.extraTargets.filter((t) => t.host === h.name);
      if (onHost.length) hosts[i] = h = { ...h, scrapeTargets: onHost };
      const targets = onHost.filter((t) => !t.stack && !isLoopback(t.address)).map((t) => Number(t.address.split(":").pop()));
      const ports = [...h.operations.exporters.filter((e) => !isLoopback(e.address)).map((e) => e.port), ...targets];
      if (i === index || !ports.length) return;
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(scraper)) {
        hosts[i] = { ...h, warnings: [...h.warnings, `the firewall of ${h.name} cannot open its exporter ports to ${config.monitoring!.prometheusHost}: that host's address "${scraper}" is a name, and a firewall rule needs an IPv4 address; set homefleet:hosts.${config.monitoring!.prometheusHost}.address to one`] };
        return;
      }
      hosts[i] = { ...h, scrapedBy: { address: scraper, ports: [...new Set(ports)].sort((a, b) => a - b) } };
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return { hosts: hosts.map((h) => ({ ...h, units: buildHostUnits(h) })) };
}
