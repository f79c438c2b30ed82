/**
 * NixOS rendering of a host's operations as one module, operations.nix: backup and certificate
 * units and timers (the same specs as on Debian), nixpkgs' exporter modules, and Prometheus on
 * the monitoring host.
 */
import { NIXOS_MODULE_DIR } from "../../model/paths";
import { isLoopback, METRICS_GROUP, TEXTFILE_DIR } from "../../model/operations";
import type { HostModel } from "../../model/specs";
import { alertingOf, PROMETHEUS_RULES_FILE, renderBlackboxConfig, renderRules } from "../common/prometheusConfig";
import { NixExpr, renderNixModule, type NixValue } from "../nix/writer";
import type { RenderedFile } from "../types";
import { nixService, nixTimer, scriptBindingName, scriptDerivation, scriptsOf } from "./serviceUnit";


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

export function renderNixosOperations(host: HostModel): NixOperations {
  const ops = host.operations;
  const services: Record<string, NixValue> = {};
  const timers: Record<string, NixValue> = {};
  const scripts = new Set<string>();
  for (const svc of ops.services) {
    services[svc.name] = nixService(svc);
    for (const s of scriptsOf(svc)) scripts.add(s);
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
    }
  }

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
    services: { prometheus: { exporters } },
  };
  if (host.prometheus) {
    const p = host.prometheus;
    files.push({ path: `${NIXOS_MODULE_DIR}/prometheus/${PROMETHEUS_RULES_FILE}`, mode: "0644", content: renderRules(host.prometheus) });
    body.services = {
      prometheus: {
        exporters,
        enable: true,
        listenAddress: p.listenAddress,
        port: p.port,
        retentionTime: p.retention,
        globalConfig: { scrape_interval: p.scrapeInterval, evaluation_interval: p.scrapeInterval },
        ruleFiles: [NixExpr.relativePath(`./prometheus/${PROMETHEUS_RULES_FILE}`)],
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
