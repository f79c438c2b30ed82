/**
 * NixOS rendering of a host's operations as one module, operations.nix: backup and certificate
 * units and timers (the same specs as on Debian), nixpkgs' exporter modules, and Prometheus on
 * the monitoring host.
 */
import { NIXOS_MODULE_DIR } from "../../model/paths";
import { isLoopback, METRICS_GROUP, TEXTFILE_DIR } from "../../model/operations";
import { unitScripts } from "../../model/hostUnits";
import type { GrafanaSpec, HostModel } from "../../model/specs";
import { alertingOf, PROMETHEUS_RULES_FILE, PROMETHEUS_USER_RULES_FILE, renderBlackboxConfig, renderRules, renderUserRules } from "../common/prometheusConfig";
import { renderDashboard } from "../monitoring/dashboard";
import { NixExpr, renderNixModule, type NixValue } from "../nix/writer";
import type { RenderedFile } from "../types";
import { nixService, nixTimer, scriptBindingName, scriptDerivation } from "./serviceUnit";


export interface NixOperations {
  readonly files: RenderedFile[];
  /** Scripts the module uses (their .sh files go to ./scripts). */
  readonly scripts: string[];
}

/**
 * Opens the exporter ports to the Prometheus host alone, on either NixOS firewall backend (the
 * iptables one takes extraCommands, the nftables one extraInputRules and refuses extraCommands).
 * The exporters keep openFirewall = false: that would open them to everyone.
 */
function scrapeFirewall(scrapedBy: NonNullable<HostModel["scrapedBy"]>): Record<string, NixValue> {
  const nftables = NixExpr.ref("config.networking.nftables.enable");
  const iptables = scrapedBy.ports.map((p) => `iptables -I nixos-fw -p tcp -s ${scrapedBy.address} --dport ${p} -j nixos-fw-accept`).join("\n") + "\n";
  const nft = `ip saddr ${scrapedBy.address} tcp dport { ${scrapedBy.ports.join(", ")} } accept comment "homefleet: Prometheus scrapes"\n`;
  return {
    extraCommands: NixExpr.call("lib.mkIf", NixExpr.not(nftables), iptables),
    extraInputRules: NixExpr.call("lib.mkIf", nftables, nft),
  };
}

/**
 * nixpkgs' services.grafana: settings with the secrets as `$__file{...}` of their credential files
 * (the settings become a config file in the Nix store), the datasource and the dashboards provisioned.
 */
function grafanaService(g: GrafanaSpec, files: RenderedFile[]): Record<string, NixValue> {
  for (const d of g.dashboards) files.push({ path: `${NIXOS_MODULE_DIR}/grafana/dashboards/${d.file}`, mode: "0644", content: renderDashboard(d.document) });
  return {
    enable: true,
    settings: {
      server: { http_addr: g.listenAddress, http_port: g.port, ...(g.domain ? { domain: g.domain } : {}) },
      security: { admin_user: g.adminUser, admin_password: `$__file{${g.credentialFiles.adminPassword}}`, secret_key: `$__file{${g.credentialFiles.secretKey}}` },
      // No usage reports leave the house.
      analytics: { reporting_enabled: false },
    },
    provision: {
      enable: true,
      datasources: { settings: { apiVersion: 1, datasources: [{ name: g.datasource.name, type: "prometheus", uid: g.datasource.uid, url: g.datasource.url, access: "proxy", isDefault: true, editable: false }] } },
      dashboards: { settings: { apiVersion: 1, providers: [{ name: "homefleet", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: NixExpr.relativePath("./grafana/dashboards") } }] } },
    },
  };
}

export function renderNixosOperations(host: HostModel): NixOperations {
  const ops = host.operations;
  const services: Record<string, NixValue> = {};
  const timers: Record<string, NixValue> = {};
  const scripts = new Set<string>();
  for (const svc of ops.services) {
    services[svc.name] = nixService(svc);
    for (const s of unitScripts(svc)) scripts.add(s);
  }
  for (const t of ops.timers) timers[t.name] = nixTimer(t);
  const bindings: Record<string, NixValue> = {};
  for (const s of [...scripts].sort()) bindings[scriptBindingName(s)] = scriptDerivation(s);

  const exporters: Record<string, NixValue> = {};
  const files: RenderedFile[] = [];
  for (const e of ops.exporters) {
    const common = { enable: true, listenAddress: e.address, port: e.port, openFirewall: false };
    if (e.kind === "node") {
      exporters.node = {
        ...common,
        enabledCollectors: ["systemd"],
        extraFlags: [`--collector.textfile.directory=${TEXTFILE_DIR}`, "--collector.systemd.enable-restarts-metrics"],
      };
    } else if (e.kind === "postgres") {
      // Peer authentication over the socket as postgres: no password anywhere.
      exporters.postgres = { ...common, runAsLocalSuperUser: true };
    } else if (e.kind === "blackbox") {
      files.push({ path: `${NIXOS_MODULE_DIR}/prometheus/blackbox.yml`, mode: "0644", content: renderBlackboxConfig() });
      exporters.blackbox = { ...common, configFile: NixExpr.relativePath("./prometheus/blackbox.yml") };
    } else if (e.kind === "nginx") {
      // nixpkgs' statusPage serves stub_status at this URI on localhost.
      exporters.nginx = { ...common, scrapeUri: "http://127.0.0.1/nginx_status" };
    } else if (e.kind === "postfix") {
      // Postfix logs to the journal on NixOS; without this the exporter waits for a log file
      // nothing writes (older nixpkgs default to the file).
      exporters.postfix = { ...common, systemd: { enable: true } };
    } else if (e.kind !== "redis") {
      exporters[e.kind] = { ...common };
    }
  }
  const nginxStatus = ops.exporters.some((e) => e.kind === "nginx");

  for (const e of ops.exporters) {
    // nixpkgs' exporter units; on a LAN address they can only bind once the network is configured.
    if (e.kind !== "redis" && !isLoopback(e.address)) services[`prometheus-${e.kind}-exporter`] = { after: ["network-online.target"], wants: ["network-online.target"] };
  }

  const body: Record<string, NixValue | undefined> = {
    users: { groups: { [METRICS_GROUP]: {} } },
    networking: host.scrapedBy ? { firewall: scrapeFirewall(host.scrapedBy) } : undefined,
    systemd: {
      services,
      timers,
      tmpfiles: { rules: ops.directories.map((d) => `d ${d.path} ${d.mode} ${d.user} ${d.group} -`) },
    },
    services: { prometheus: { exporters }, ...(nginxStatus ? { nginx: { statusPage: true } } : {}) },
  };
  if (host.prometheus) {
    const p = host.prometheus;
    files.push({ path: `${NIXOS_MODULE_DIR}/prometheus/${PROMETHEUS_RULES_FILE}`, mode: "0644", content: renderRules(p) });
    if (p.userRuleGroups.length) files.push({ path: `${NIXOS_MODULE_DIR}/prometheus/${PROMETHEUS_USER_RULES_FILE}`, mode: "0644", content: renderUserRules(p.userRuleGroups) });
    body.services = {
      ...(nginxStatus ? { nginx: { statusPage: true } } : {}),
      ...(host.grafana ? { grafana: grafanaService(host.grafana, files) } : {}),
      prometheus: {
        exporters,
        enable: true,
        listenAddress: p.listenAddress,
        port: p.port,
        retentionTime: p.retention,
        globalConfig: { scrape_interval: p.scrapeInterval, evaluation_interval: p.scrapeInterval },
        ruleFiles: [NixExpr.relativePath(`./prometheus/${PROMETHEUS_RULES_FILE}`), ...(p.userRuleGroups.length ? [NixExpr.relativePath(`./prometheus/${PROMETHEUS_USER_RULES_FILE}`)] : [])],
        scrapeConfigs: p.scrapeConfigs as NixValue,
        alertmanagers: (alertingOf(p).alerting?.alertmanagers as NixValue) ?? undefined,
        alertmanager: host.alertmanager
          ? {
              enable: true,
              listenAddress: host.alertmanager.listenAddress,
              port: host.alertmanager.port,
              // No cluster gossip port (the default listens on 0.0.0.0:9094).
              extraFlags: ["--cluster.listen-address="],
              configuration: host.alertmanager.config as NixValue,
            }
          : undefined,
      },
    };
    if (host.grafana) {
      services.grafana = { serviceConfig: { LoadCredential: host.grafana.credentials.map((c) => `${c.name}:${c.path}`) } };
      // The NixOS firewall drops everything not opened: Grafana on a LAN address must be reachable.
      if (!isLoopback(host.grafana.listenAddress)) body.networking = { firewall: { allowedTCPPorts: [host.grafana.port] } };
    }
    if (host.alertmanager?.credentials.length) {
      // Receiver credentials reach the DynamicUser service as its own /run/credentials files.
      services.alertmanager = { serviceConfig: { LoadCredential: host.alertmanager.credentials.map((c) => `${c.name}:${c.path}`) } };
    }
  }
  files.push({
    path: `${NIXOS_MODULE_DIR}/operations.nix`,
    mode: "0644",
    content: renderNixModule({
      header: [`Managed by homefleet: backups, certificates and monitoring of ${host.name}.`, "Hand edits are reported as drift and replaced on the next deployment."],
      args: ["config", "lib", "pkgs"],
      bindings,
      body,
    }),
  });
  return { files, scripts: [...scripts] };
}
