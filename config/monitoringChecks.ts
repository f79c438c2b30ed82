/**
 * Rules of extended monitoring that span keys: scrape targets on known hosts and published ports,
 * packaged exporters the host's flavour has, user alert rules that do not shadow homefleet's, and
 * Grafana where it can run and reach Prometheus.
 */
import { alertNames } from "../render/monitoring/alertRules";
import { EXPORTER_CATALOG } from "../model/exporterCatalog";
import { PACKAGED_EXPORTERS, type HostConfig, type MonitoringConfig, type StackConfig } from "./schema";

interface Problem {
  readonly path: string;
  readonly message: string;
}

/** Job names homefleet's own scrape config uses: a user's scrape target may not take one. */
export const RESERVED_JOBS = ["prometheus", "node", "postgres", "redis", "blackbox-http", "stack-metrics", ...PACKAGED_EXPORTERS] as const;

export function monitoringChecks(hosts: Record<string, HostConfig>, stacks: Record<string, StackConfig>, monitoring: MonitoringConfig | undefined): Problem[] {
  const problems: Problem[] = [];
  const mon = "homefleet:monitoring";
  for (const [hostName, host] of Object.entries(hosts)) {
    const seen = new Set<string>();
    (host.exporters ?? []).forEach((name, i) => {
      const path = `homefleet:hosts.${hostName}.exporters.${i}`;
      if (seen.has(name)) problems.push({ path, message: `${name} is listed twice` });
      seen.add(name);
      if (host.os === "systemd" && !EXPORTER_CATALOG[name].debian) {
        problems.push({ path, message: `Debian bookworm has no prometheus-${name}-exporter package: the ${name} exporter runs on NixOS hosts only (services.prometheus.exporters.${name})` });
      }
    });
  }
  for (const [name, stack] of Object.entries(stacks)) {
    const at = `homefleet:stacks.${name}`;
    if (stack.litellm?.prometheusMetrics && stack.kind !== "litellm") problems.push({ path: `${at}.litellm.prometheusMetrics`, message: "only for kind: litellm" });
    if (stack.litellm?.prometheusMetrics && stack.metrics) problems.push({ path: `${at}.metrics`, message: "litellm.prometheusMetrics scrapes LiteLLM's /metrics/ already: give one of them" });
    const m = stack.metrics;
    if (m && !stack.container) {
      problems.push({ path: `${at}.metrics`, message: "a native service's metrics are scraped as homefleet:monitoring.scrapeTargets (or hosts.<h>.exporters); metrics is for a container's own endpoint" });
      continue;
    }
    if (m?.port !== undefined) {
      const main = stack.container!.port ?? (stack.kind === "litellm" ? 4000 : undefined);
      const further = stack.container!.ports.filter((p) => p.protocol === "tcp").map((p) => p.container);
      if (m.port !== main && !further.includes(m.port)) {
        problems.push({ path: `${at}.metrics.port`, message: `${m.port} is neither the container's main port (${main ?? "none"}) nor a TCP port of container.ports (${further.join(", ") || "none"}): Prometheus reaches only published ports` });
      }
    } else if (m && stack.container!.port === undefined && stack.kind !== "litellm") {
      problems.push({ path: `${at}.metrics.port`, message: "required: the container has no main port (container.port)" });
    }
  }
  if (!monitoring || !hosts[monitoring.prometheusHost]) return problems;
  for (const [job, t] of Object.entries(monitoring.scrapeTargets ?? {})) {
    const at = `${mon}.scrapeTargets.${job}`;
    if ((RESERVED_JOBS as readonly string[]).includes(job)) problems.push({ path: at, message: `"${job}" is a job of homefleet's own scrape config: name the target otherwise` });
    if (!hosts[t.host]) problems.push({ path: `${at}.host`, message: `unknown host "${t.host}" (hosts: ${Object.keys(hosts).sort().join(", ")})` });
  }
  const homefleetAlerts = alertNames();
  const seenAlerts = new Map<string, string>();
  for (const [group, rules] of Object.entries(monitoring.rules ?? {})) {
    const at = `${mon}.rules.${group}`;
    if (/^homefleet(\.|$)/i.test(group)) problems.push({ path: at, message: "group names starting with homefleet are homefleet's own rules: name the group otherwise" });
    rules.forEach((r, i) => {
      if (homefleetAlerts.has(r.alert)) problems.push({ path: `${at}.${i}.alert`, message: `${r.alert} is one of homefleet's own alerts: give yours another name` });
      const other = seenAlerts.get(r.alert);
      // The same name twice (different thresholds or severities) is Prometheus' way; in two groups it is a typo more often than not.
      if (other && other !== group) problems.push({ path: `${at}.${i}.alert`, message: `${r.alert} is also defined in group ${other}` });
      else seenAlerts.set(r.alert, group);
      const stack = r.labels.stack;
      if (stack !== undefined && !stacks[stack]) problems.push({ path: `${at}.${i}.labels.stack`, message: `unknown stack "${stack}" (stacks: ${Object.keys(stacks).sort().join(", ")})` });
      const severity = r.labels.severity;
      if (severity !== undefined && !["critical", "warning", "info"].includes(severity)) problems.push({ path: `${at}.${i}.labels.severity`, message: `expected critical, warning or info (Alertmanager's routes and inhibitions match on them), got ${JSON.stringify(severity)}` });
    });
  }
  const g = monitoring.grafana;
  if (g) {
    const host = g.host ?? monitoring.prometheusHost;
    if (g.host !== undefined && g.host !== monitoring.prometheusHost) {
      problems.push({ path: `${mon}.grafana.host`, message: `Grafana runs on the Prometheus host (${monitoring.prometheusHost}): Prometheus listens on its loopback only, so Grafana elsewhere could not query it` });
    } else if (hosts[host].os !== "nixos") {
      problems.push({ path: `${mon}.grafana`, message: `Grafana is not packaged for Debian bookworm, and ${host} is a plain systemd host: run Prometheus (and Grafana) on a NixOS host, or install Grafana yourself and leave this key out` });
    }
    // One services.grafana per host: the provisioned one, or a native stack's, not both.
    for (const [name, stack] of Object.entries(stacks)) {
      if (stack.native?.service === "grafana" && stack.host === host) {
        problems.push({ path: `homefleet:stacks.${name}.native.service`, message: `${mon}.grafana runs Grafana on ${host} already (with the Prometheus datasource and the stacks' dashboards): leave out this stack, or monitoring.grafana` });
      }
    }
  }
  return problems;
}
