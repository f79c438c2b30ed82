/**
 * A Grafana dashboard per stack, as data: the stack's unit state and restarts (node_exporter's
 * systemd collector), its health probe (blackbox_exporter), its database (postgres_exporter), its
 * Redis (redis_exporter) and its own metrics endpoint when Prometheus scrapes one. Every query
 * uses only the metric names and labels homefleet's exporters and scrape config produce (the
 * same ones its alert rules use), so a panel never waits for a series that cannot exist.
 */
import { JOBS } from "./monitoring";
import { units } from "./paths";
import type { StackModel } from "./specs";

/** Grafana's dashboard JSON schema version the documents are written for (Grafana 10/11). */
export const DASHBOARD_SCHEMA_VERSION = 39;

export interface DatasourceRef {
  readonly type: "prometheus";
  readonly uid: string;
}

interface Query {
  readonly expr: string;
  readonly legend?: string;
}

interface Panel {
  readonly title: string;
  readonly type: "stat" | "timeseries";
  readonly unit?: string;
  readonly queries: readonly Query[];
  readonly description?: string;
}

/** `hf-<stack>`: Grafana limits a uid to 40 characters; stack names have at most 31. */
export function dashboardUid(stack: string): string {
  return `hf-${stack}`;
}

function panelsOf(host: string, stack: Pick<StackModel, "name" | "kind" | "database" | "cache" | "metrics">): Panel[] {
  const unit = units.container(stack.name);
  const onHost = `host="${host}"`;
  const probe = `job="${JOBS.blackbox}",stack="${stack.name}"`;
  const panels: Panel[] = [
    { title: "Container unit active", type: "stat", queries: [{ expr: `node_systemd_unit_state{${onHost},name="${unit}",state="active"}` }], description: `1 while ${unit} is active.` },
    { title: "Health probe", type: "stat", queries: [{ expr: `probe_success{${probe}}` }], description: "1 while the health endpoint answers 2xx (blackbox probe)." },
    { title: "Restarts (1h)", type: "stat", queries: [{ expr: `increase(node_systemd_service_restart_total{${onHost},name="${unit}"}[1h])` }] },
    { title: "Probe duration", type: "timeseries", unit: "s", queries: [{ expr: `probe_duration_seconds{${probe}}`, legend: "{{instance}}" }] },
  ];
  if (stack.database) {
    const db = `${onHost},datname="${stack.database.name}"`;
    panels.push(
      { title: "PostgreSQL up", type: "stat", queries: [{ expr: `pg_up{${onHost}}` }] },
      { title: `Connections to ${stack.database.name}`, type: "timeseries", queries: [{ expr: `sum by (state) (pg_stat_activity_count{${db}})`, legend: "{{state}}" }] },
      { title: "Commits per second", type: "timeseries", unit: "ops", queries: [{ expr: `rate(pg_stat_database_xact_commit{${db}}[5m])`, legend: "commits" }, { expr: `rate(pg_stat_database_xact_rollback{${db}}[5m])`, legend: "rollbacks" }] },
      { title: "Database size", type: "timeseries", unit: "bytes", queries: [{ expr: `pg_database_size_bytes{${db}}`, legend: "{{datname}}" }] },
    );
  }
  if (stack.cache) {
    const redis = `job="${JOBS.redis}",stack="${stack.name}"`;
    panels.push(
      { title: "Redis up", type: "stat", queries: [{ expr: `redis_up{${redis}}` }] },
      { title: "Redis memory", type: "timeseries", unit: "bytes", queries: [{ expr: `redis_memory_used_bytes{${redis}}`, legend: "used" }, { expr: `redis_memory_max_bytes{${redis}}`, legend: "maxmemory" }] },
      { title: "Redis clients", type: "timeseries", queries: [{ expr: `redis_connected_clients{${redis}}`, legend: "clients" }] },
      { title: "Redis commands per second", type: "timeseries", unit: "ops", queries: [{ expr: `rate(redis_commands_processed_total{${redis}}[5m])`, legend: "commands" }] },
    );
  }
  if (stack.metrics) {
    const own = `job="${JOBS.stackMetrics}",stack="${stack.name}"`;
    panels.push({ title: "Metrics endpoint up", type: "stat", queries: [{ expr: `up{${own}}` }], description: `Prometheus scrapes ${stack.metrics.path} of the container.` });
    if (stack.kind === "litellm") {
      panels.push(
        { title: "LiteLLM requests per second", type: "timeseries", unit: "reqps", queries: [{ expr: `sum(rate(litellm_proxy_total_requests_metric_total{${own}}[5m]))`, legend: "requests" }, { expr: `sum(rate(litellm_proxy_failed_requests_metric_total{${own}}[5m]))`, legend: "failed" }] },
      );
    }
  }
  return panels;
}

/** The dashboard document of one stack, ready for Grafana's file provisioning. */
export function stackDashboard(host: string, stack: Pick<StackModel, "name" | "kind" | "database" | "cache" | "metrics">, datasource: DatasourceRef): Record<string, unknown> {
  const panels = panelsOf(host, stack);
  // Stats in rows of four (6 wide, 4 high), then time series two to a row (12 wide, 8 high).
  const stats = panels.filter((p) => p.type === "stat");
  const series = panels.filter((p) => p.type === "timeseries");
  const placed: { panel: Panel; gridPos: { h: number; w: number; x: number; y: number } }[] = [];
  stats.forEach((panel, i) => placed.push({ panel, gridPos: { h: 4, w: 6, x: (i % 4) * 6, y: Math.floor(i / 4) * 4 } }));
  const top = Math.ceil(stats.length / 4) * 4;
  series.forEach((panel, i) => placed.push({ panel, gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: top + Math.floor(i / 2) * 8 } }));
  return {
    uid: dashboardUid(stack.name),
    title: `homefleet: ${stack.name}`,
    description: `Stack ${stack.name} on ${host}, as homefleet's exporters see it. Managed by homefleet: edits in Grafana are replaced on the next deployment.`,
    tags: ["homefleet", stack.kind],
    timezone: "browser",
    editable: false,
    schemaVersion: DASHBOARD_SCHEMA_VERSION,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: { list: [] },
    annotations: { list: [] },
    panels: placed.map(({ panel, gridPos }, i) => ({
      id: i + 1,
      type: panel.type,
      title: panel.title,
      ...(panel.description ? { description: panel.description } : {}),
      gridPos,
      datasource,
      fieldConfig: { defaults: panel.unit ? { unit: panel.unit } : {}, overrides: [] },
      options: {},
      targets: panel.queries.map((q, j) => ({ refId: String.fromCharCode(65 + j), datasource, expr: q.expr, ...(q.legend ? { legendFormat: q.legend } : {}) })),
    })),
  };
}
