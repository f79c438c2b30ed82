import { BLACKBOX_CONFIG } from "../../model/monitoring";
import type { AlertmanagerSpec, PrometheusSpec } from "../../model/specs";
import { renderAlertRules } from "../monitoring/alertRules";
import { yamlText } from "./yamlBlock";

export { PROMETHEUS_RULES_FILE, PROMETHEUS_USER_RULES_FILE } from "../../model/paths";
export { renderUserRules } from "../monitoring/userRules";

const header = "# Managed by homefleet. Hand edits are reported as drift and replaced on the next deployment.\n";

/** prometheus.yml for Debian; NixOS gets the same scrape jobs through services.prometheus. */
export function renderPrometheusConfig(spec: PrometheusSpec, rulesPath: string, userRulesPath?: string): string {
  return (
    header +
    yamlText(
      {
        global: { scrape_interval: spec.scrapeInterval, evaluation_interval: spec.scrapeInterval },
        rule_files: spec.userRuleGroups.length && userRulesPath ? [rulesPath, userRulesPath] : [rulesPath],
        ...alertingOf(spec),
        scrape_configs: spec.scrapeConfigs,
      },
    )
  );
}

/** Prometheus' `alerting` section: where its alerts go (nothing without an Alertmanager). */
export function alertingOf(spec: PrometheusSpec): { alerting?: { alertmanagers: { static_configs: { targets: string[] }[] }[] } } {
  return spec.alertmanagers.length ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [...spec.alertmanagers] }] }] } } : {};
}

/** alertmanager.yml: receivers name their credentials by path only (LoadCredential files), never by value. */
export function renderAlertmanagerConfig(spec: AlertmanagerSpec): string {
  return header + yamlText(spec.config);
}

export function renderRules(spec?: PrometheusSpec): string {
  return renderAlertRules({}, spec?.nativeUnits);
}

let blackboxConfig: string | undefined;

/** blackbox.yml: the same text on every host that runs Prometheus, so it is rendered once per process. */
export function renderBlackboxConfig(): string {
  blackboxConfig ??= header + yamlText(BLACKBOX_CONFIG);
  return blackboxConfig;
}
