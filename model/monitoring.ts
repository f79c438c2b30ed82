/**
 * The Prometheus side: scrape jobs for every exporter and health endpoint of the fleet, written
 * for the host named by `homefleet:monitoring.prometheusHost`.
 */
import type { AlertmanagerConfig, MonitoringConfig } from "../config/schema";
import { EXPORTER_PORTS, isLoopback } from "./operations";
import { secretPaths, units } from "./paths";
import { EXPORTER_CATALOG } from "./exporterCatalog";
import type { AlertmanagerSpec, ExporterSpec, HostOperations, PrometheusSpec, ScrapeTargetSpec, SecretFileSpec, StackModel, UserRuleGroupSpec } from "./specs";
import { compareText } from "./textOrder";

export interface MonitoredHost {
  readonly name: string;
  readonly address: string;
  readonly operations: HostOperations;
  readonly stacks: readonly (Pick<StackModel, "name" | "kind" | "metrics"> & {
    /** Its native service, whose units the alert rules watch as homefleet's. */
    readonly native?: { readonly units: readonly { readonly name: string; readonly start: boolean }[] };
  })[];
}



/** Alertmanager listens on the Prometheus host's loopback only (and without clustering). */
const ALERTMANAGER = { address: "127.0.0.1", port: 9093 } as const;

/** Where Watchdog goes when no heartbeat receiver is configured: nowhere, rather than to a person every few minutes. */
export const DISCARD_RECEIVER = "homefleet-discard";

export function buildAlertmanager(am: AlertmanagerConfig, os: "nixos" | "systemd"): AlertmanagerSpec {
  const unit = units.alertmanager(os);
  // systemd puts each LoadCredential file here for the unit alone, readable by its (dynamic) user.
  const credentialsDir = `/run/credentials/${unit}`;
  const credentials: { name: string; path: string }[] = [];
  const secretFiles: SecretFileSpec[] = [];
  const configSecrets: string[] = [];
  const credential = (name: string, configKey: string): string => {
    const path = secretPaths.alertmanager(name);
    credentials.push({ name, path });
    secretFiles.push({ path, owner: "root", group: "root", mode: "0400", format: "raw", entries: [{ name, parts: [{ secret: `config/${configKey}` }] }] });
    configSecrets.push(configKey);
    return `${credentialsDir}/${name}`;
  };
  const receivers: Record<string, unknown>[] = Object.entries(am.receivers)
    .sort(([a], [b]) => compareText(a, b))
    .map(([name, r]) => {
      if (r.webhook) {
        const token = r.webhook.bearerTokenConfig ? credential(`${name}-token`, r.webhook.bearerTokenConfig) : undefined;
        return { name, webhook_configs: [{ url: r.webhook.url, send_resolved: true, ...(token ? { http_config: { authorization: { type: "Bearer", credentials_file: token } } } : {}) }] };
      }
      const e = r.email!;
      const password = e.passwordConfig ? credential(`${name}-password`, e.passwordConfig) : undefined;
      return { name, email_configs: [{ to: e.to, from: e.from, smarthost: e.smarthost, require_tls: true, send_resolved: true, ...(e.username ? { auth_username: e.username } : {}), ...(password ? { auth_password_file: password } : {}) }] };
    });
  const heartbeat = am.heartbeatReceiver ?? DISCARD_RECEIVER;
  if (!am.heartbeatReceiver) receivers.push({ name: DISCARD_RECEIVER });
  return {
    unit,
    listenAddress: ALERTMANAGER.address,
    port: ALERTMANAGER.port,
    credentials,
    secretFiles,
    configSecrets,
    config: {
      route: {
        receiver: am.defaultReceiver,
        group_by: ["alertname", "host", "instance"],
        group_wait: am.groupWait,
        group_interval: am.groupInterval,
        repeat_interval: am.repeatInterval,
        routes: [
          // The dead man's switch: only to the heartbeat, at once and at a steady beat.
          { matchers: ['alertname="Watchdog"'], receiver: heartbeat, group_wait: "0s", group_interval: am.heartbeatInterval, repeat_interval: am.heartbeatInterval },
        ],
      },
      inhibit_rules: [
        // An exporter that is down explains the other alerts about its instance.
        { source_matchers: ['alertname="TargetDown"'], target_matchers: ['alertname!="TargetDown"', 'alertname!="Watchdog"'], equal: ["instance"] },
        // The critical form of a certificate alert replaces the warning.
        { source_matchers: ['alertname="CertificateExpiringCritical"'], target_matchers: ['alertname="CertificateExpiringSoon"'], equal: ["instance", "certificate"] },
        // The same alert at both severities: the critical one is enough.
        { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "instance"] },
      ],
      receivers,
    },
  };
}

/** Job names the alert rules rely on. */
export const JOBS = { node: "node", postgres: "postgres", redis: "redis", blackbox: "blackbox-http", stackMetrics: "stack-metrics" } as const;

/** Whether the Prometheus host can scrape an exporter: its own on any address, another host's off loopback. */
export function scrapeable(prometheusHost: string, host: string, exporter: Pick<ExporterSpec, "address">): boolean {
  return host === prometheusHost || !isLoopback(exporter.address);
}

export function buildPrometheus(monitoring: MonitoringConfig, hosts: readonly MonitoredHost[]): PrometheusSpec {
  const unreachable: string[] = [];
  const targets: Record<string, { targets: string[]; labels: Record<string, string> }[]> = { node: [], postgres: [], redis: [], blackbox: [], ...Object.fromEntries(Object.keys(EXPORTER_CATALOG).map((k) => [k, []])) };
  for (const host of hosts) {
    for (const e of host.operations.exporters) {
      if (!scrapeable(monitoring.prometheusHost, host.name, e)) {
        unreachable.push(`${e.kind} exporter of ${host.name} listens on ${e.address}; set homefleet:hosts.${host.name}.monitoring.listenAddress to an address ${monitoring.prometheusHost} can reach`);
        continue;
      }
      const address = `${e.address}:${e.port}`;
      const labels: Record<string, string> = { host: host.name, ...(e.stack ? { stack: e.stack } : {}) };
      if (e.kind === "blackbox") {
        for (const probe of host.operations.probes) {
          targets.blackbox.push({ targets: [probe.url], labels: { host: host.name, stack: probe.stack, kind: probe.kind, __blackbox_exporter: address } });
        }
      } else {
        targets[e.kind].push({ targets: [address], labels });
      }
    }
  }
  const job = (name: string, staticConfigs: { targets: string[]; labels: Record<string, string> }[]) => ({ job_name: name, static_configs: staticConfigs });
  const scrapeConfigs: Record<string, unknown>[] = [
    { job_name: "prometheus", static_configs: [{ targets: ["127.0.0.1:9090"], labels: { host: monitoring.prometheusHost } }] },
    job(JOBS.node, targets.node),
  ];
  if (targets.postgres.length) scrapeConfigs.push(job(JOBS.postgres, targets.postgres));
  if (targets.redis.length) scrapeConfigs.push(job(JOBS.redis, targets.redis));
  if (targets.blackbox.length) {
    scrapeConfigs.push({
      ...job(JOBS.blackbox, targets.blackbox),
      metrics_path: "/probe",
      params: { module: ["http_2xx"] },
      // Each health endpoint is probed by the blackbox exporter on its own host (they listen on loopback).
      relabel_configs: [
        { source_labels: ["__address__"], target_label: "__param_target" },
        { source_labels: ["__param_target"], target_label: "instance" },
        { source_labels: ["__blackbox_exporter"], target_label: "__address__" },
      ],
    });
  }
  // The packaged exporters homefleet runs on request: a job each, named after the exporter.
  for (const kind of Object.keys(EXPORTER_CATALOG)) if (targets[kind].length) scrapeConfigs.push(job(kind, targets[kind]));
  const extraTargets = extraScrapeTargets(monitoring, hosts, unreachable);
  // Containers' own endpoints: one job, each target with its own path (static labels starting
  // with __ reach the scrape, and __metrics_path__ is the path Prometheus requests).
  const containers = extraTargets.filter((t) => t.stack);
  if (containers.length) {
    scrapeConfigs.push(job(JOBS.stackMetrics, containers.map((t) => ({ targets: [t.address], labels: { host: t.host, stack: t.stack as string, kind: hosts.find((h) => h.name === t.host)!.stacks.find((s) => s.name === t.stack)!.kind, __metrics_path__: t.path } }))));
  }
  for (const t of extraTargets.filter((x) => !x.stack)) {
    scrapeConfigs.push({ job_name: t.job, ...(t.scheme === "https" ? { scheme: "https" } : {}), metrics_path: t.path, static_configs: [{ targets: [t.address], labels: { host: t.host } }] });
  }
  const alertmanagers = monitoring.alertmanager ? [`${ALERTMANAGER.address}:${ALERTMANAGER.port}`] : [];
  const native = hosts.flatMap((h) => h.stacks.flatMap((s) => s.native?.units ?? []));
  const nativeUnits = native.length
    ? { all: [...new Set(native.map((u) => u.name))].sort(), started: [...new Set(native.filter((u) => u.start).map((u) => u.name))].sort() }
    : undefined;
  return { scrapeInterval: monitoring.scrapeInterval, retention: monitoring.retention, listenAddress: "127.0.0.1", port: 9090, scrapeConfigs, unreachable, alertmanagers, extraTargets, userRuleGroups: userRuleGroups(monitoring), ...(nativeUnits ? { nativeUnits } : {}) };
}

/**
 * The address the Prometheus host scrapes a target at: loopback on its own host; elsewhere the
 * address it listens on, or the host's address for one that listens on all of them. A target on
 * another host's loopback cannot be reached: it is reported, not scraped.
 */
function scrapeAddress(prometheusHost: string, host: MonitoredHost, listen: string | undefined, port: number): string | undefined {
  if (host.name === prometheusHost) return `${listen && !isLoopback(listen) && listen !== "0.0.0.0" ? listen : "127.0.0.1"}:${port}`;
  if (listen && isLoopback(listen)) return undefined;
  return `${listen && listen !== "0.0.0.0" ? listen : host.address}:${port}`;
}

/** Containers' own metrics endpoints and the exporters homefleet does not run, as the Prometheus host reaches them. */
function extraScrapeTargets(monitoring: MonitoringConfig, hosts: readonly MonitoredHost[], unreachable: string[]): ScrapeTargetSpec[] {
  const out: ScrapeTargetSpec[] = [];
  for (const host of hosts) {
    for (const s of host.stacks) {
      const m = s.metrics;
      if (!m) continue;
      const address = scrapeAddress(monitoring.prometheusHost, host, m.address, m.hostPort);
      if (!address) {
        unreachable.push(`metrics of stack ${s.name} are published on ${m.address} of ${host.name}, which ${monitoring.prometheusHost} cannot reach; publish the port on an address of the monitoring network (container.publish.address or container.ports)`);
        continue;
      }
      out.push({ job: JOBS.stackMetrics, host: host.name, stack: s.name, address, path: m.path, scheme: "http", configPath: m.configPath });
    }
  }
  for (const [job, t] of Object.entries(monitoring.scrapeTargets ?? {})) {
    const host = hosts.find((h) => h.name === t.host)!;
    const address = scrapeAddress(monitoring.prometheusHost, host, t.address, t.port);
    if (!address) {
      unreachable.push(`scrape target ${job} listens on ${t.address} of ${t.host}, which ${monitoring.prometheusHost} cannot reach; set homefleet:monitoring.scrapeTargets.${job}.address to an address of the monitoring network`);
      continue;
    }
    out.push({ job, host: t.host, address, path: t.path, scheme: t.scheme, configPath: `homefleet:monitoring.scrapeTargets.${job}` });
  }
  return out;
}

/** The user's rule groups, as given (Prometheus evaluates them in the order of the file). */
function userRuleGroups(monitoring: MonitoringConfig): UserRuleGroupSpec[] {
  return Object.entries(monitoring.rules ?? {}).map(([name, rules]) => ({
    name,
    rules: rules.map((r) => ({ alert: r.alert, expr: r.expr, ...(r.for ? { for: r.for } : {}), labels: { ...r.labels }, annotations: { ...r.annotations } })),
  }));
}

/** The unit of an exporter homefleet configures (not a stack's Redis exporter, which is homefleet's own). */
export function exporterUnit(e: ExporterSpec): string {
  if (e.kind === "redis") return units.redisExporter(e.stack as string);
  return units.exporter(e.kind);
}

export const BLACKBOX_CONFIG = {
  modules: {
    http_2xx: {
      prober: "http",
      // seed 000: health checks with generous timeouts; LiteLLM readiness touches the database.
      timeout: "10s",
      http: { valid_status_codes: [], method: "GET", preferred_ip_protocol: "ip4", no_follow_redirects: false },
    },
  },
} as const;

export { EXPORTER_PORTS };
