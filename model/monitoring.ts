/**
 * The Prometheus side: scrape jobs for every exporter and health endpoint of the fleet, written
 * for the host named by `homefleet:monitoring.prometheusHost`.
 */
import type { MonitoringConfig } from "../config/schema";
import { EXPORTER_PORTS, type HostOperations } from "./operations";

export interface MonitoredHost {
  readonly name: string;
  readonly operations: HostOperations;
}

export interface PrometheusSpec {
  readonly scrapeInterval: string;
  readonly retention: string;
  readonly listenAddress: string;
  readonly port: number;
  /** Scrape jobs in Prometheus' own configuration format (shared by both flavours). */
  readonly scrapeConfigs: readonly Record<string, unknown>[];
  /** Exporters the Prometheus host cannot reach (listening on another host's loopback). */
  readonly unreachable: readonly string[];
}

/** Job names the alert rules rely on. */
export const JOBS = { node: "node", postgres: "postgres", redis: "redis", blackbox: "blackbox-http" } as const;

export function buildPrometheus(monitoring: MonitoringConfig, hosts: readonly MonitoredHost[]): PrometheusSpec {
  const unreachable: string[] = [];
  const targets: Record<string, { targets: string[]; labels: Record<string, string> }[]> = { node: [], postgres: [], redis: [], blackbox: [] };
  for (const host of hosts) {
    for (const e of host.operations.exporters) {
      const local = host.name === monitoring.prometheusHost;
      const loopback = e.address.startsWith("127.");
      if (loopback && !local) {
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
  return { scrapeInterval: monitoring.scrapeInterval, retention: monitoring.retention, listenAddress: "127.0.0.1", port: 9090, scrapeConfigs, unreachable };
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
