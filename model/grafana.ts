/**
 * Grafana on the Prometheus host (NixOS; config refuses a plain systemd host, where Grafana is
 * not packaged): the Prometheus datasource and a dashboard per stack of the fleet, provisioned
 * from files, and its admin password and secret key read from credential files, never written
 * into its configuration (which lands in the world-readable Nix store).
 */
import type { GrafanaConfig } from "../config/schema";
import { dashboardUid, stackDashboard } from "./dashboards";
import { secretPaths, units } from "./paths";
import type { GrafanaSpec, PrometheusSpec, SecretFileSpec, StackModel } from "./specs";

/** The datasource every dashboard names by uid. */
export const GRAFANA_DATASOURCE = { name: "Prometheus (homefleet)", uid: "homefleet-prometheus" } as const;

export function buildGrafana(config: GrafanaConfig, prometheus: Pick<PrometheusSpec, "listenAddress" | "port">, hosts: readonly { readonly name: string; readonly stacks: readonly StackModel[] }[]): GrafanaSpec {
  const unit = units.grafana();
  const credentialsDir = `/run/credentials/${unit}`;
  const secret = (name: string, configKey: string): SecretFileSpec => ({ path: secretPaths.grafana(name), owner: "root", group: "root", mode: "0400", format: "raw", entries: [{ name, parts: [{ secret: `config/${configKey}` }] }] });
  const secretFiles = [secret("admin-password", config.adminPasswordConfig), secret("secret-key", config.secretKeyConfig)];
  const datasource = { ...GRAFANA_DATASOURCE, url: `http://${prometheus.listenAddress}:${prometheus.port}` };
  return {
    unit,
    listenAddress: config.listenAddress,
    port: config.port,
    ...(config.domain ? { domain: config.domain } : {}),
    adminUser: config.adminUser,
    credentials: secretFiles.map((f) => ({ name: f.entries[0].name, path: f.path })),
    credentialFiles: { adminPassword: `${credentialsDir}/admin-password`, secretKey: `${credentialsDir}/secret-key` },
    secretFiles,
    configSecrets: [...new Set([config.adminPasswordConfig, config.secretKeyConfig])],
    datasource,
    dashboards: hosts.flatMap((h) => h.stacks.map((s) => ({ stack: s.name, file: `${dashboardUid(s.name)}.json`, document: stackDashboard(h.name, s, { type: "prometheus", uid: datasource.uid }) }))),
  };
}
