/**
 * Debian rendering of a host's operations: backup and certificate units with their timers,
 * exporter settings for Debian's packaged exporters, and Prometheus on the monitoring host.
 */
import { METRICS_GROUP, TEXTFILE_DIR } from "../../model/operations";
import type { ExporterSpec } from "../../model/specs";
import type { HostModel } from "../../model/specs";
import { debianPaths, units } from "../../model/paths";
import { renderAlertmanagerConfig, renderBlackboxConfig, renderPrometheusConfig, renderRules, renderUserRules } from "../common/prometheusConfig";
import type { RenderedFile } from "../types";
import { renderServiceUnit, renderTimerUnit } from "./serviceUnit";
import { renderUnitFile } from "./unitWriter";

const HEADER = "# Managed by homefleet. Hand edits are reported as drift and replaced on the next deployment.\n";

/** /etc/default files are read by Debian's units as EnvironmentFile; values here are homefleet's own. */
function defaultsFile(path: string, vars: Record<string, string>): RenderedFile {
  const lines = Object.keys(vars).map((k) => {
    if (/['\n\\]/.test(vars[k])) throw new Error(`${path}: ${k} cannot be written to an environment file`);
    return `${k}='${vars[k]}'`;
  });
  return { path, mode: "0644", content: HEADER + lines.join("\n") + "\n" };
}

function exporterFiles(e: ExporterSpec): RenderedFile[] {
  const listen = `--web.listen-address=${e.address}:${e.port}`;
  switch (e.kind) {
    case "node":
      return [
        defaultsFile(debianPaths.defaults(units.exporter("node")), {
          ARGS: [listen, "--collector.systemd", "--collector.systemd.enable-restarts-metrics", `--collector.textfile.directory=${TEXTFILE_DIR}`].join(" "),
        }),
      ];
    case "postgres":
      return [
        // Peer authentication over the socket as postgres: no password anywhere (NixOS: runAsLocalSuperUser).
        defaultsFile(debianPaths.defaults(units.exporter("postgres")), { DATA_SOURCE_NAME: "host=/run/postgresql user=postgres sslmode=disable", ARGS: listen }),
        {
          path: debianPaths.dropIn(units.exporter("postgres")),
          mode: "0644",
          content: renderUnitFile({ header: ["Managed by homefleet: the exporter logs in as postgres by peer authentication."], sections: { Service: { User: "postgres", Group: "postgres" } } }),
        },
      ];
    case "blackbox":
      return [
        { path: debianPaths.blackboxConfig, mode: "0644", content: renderBlackboxConfig() },
        defaultsFile(debianPaths.defaults(units.exporter("blackbox")), { ARGS: `--config.file=${debianPaths.blackboxConfig} ${listen}` }),
      ];
    case "redis":
      return []; // one homefleet unit per Redis instance, rendered with the other services
    case "nginx":
      // The exporter's default is stub_status on 127.0.0.1:8080; nixpkgs' statusPage serves it here.
      return [defaultsFile(debianPaths.defaults(units.exporter(e.kind)), { ARGS: `${listen} --nginx.scrape-uri=http://127.0.0.1/nginx_status` })];
    default:
      // The packaged exporters run on request: their listen address is homefleet's, the rest the package's defaults.
      return [defaultsFile(debianPaths.defaults(units.exporter(e.kind)), { ARGS: listen })];
  }
}

export function renderSystemdOperations(host: HostModel): RenderedFile[] {
  const ops = host.operations;
  const files: RenderedFile[] = [...ops.services.map(renderServiceUnit), ...ops.timers.map(renderTimerUnit)];
  files.push({
    path: "/etc/tmpfiles.d/homefleet-operations.conf",
    mode: "0644",
    content: HEADER + ops.directories.map((d) => `d ${d.path} ${d.mode} ${d.user} ${d.group} -`).join("\n") + "\n",
  });
  files.push({ path: "/etc/sysusers.d/homefleet.conf", mode: "0644", content: HEADER + `g ${METRICS_GROUP} -\n` });
  for (const e of ops.exporters) files.push(...exporterFiles(e));
  if (host.prometheus) {
    files.push({ path: debianPaths.prometheusConfig, mode: "0644", content: renderPrometheusConfig(host.prometheus, debianPaths.prometheusRules, debianPaths.prometheusUserRules) });
    files.push({ path: debianPaths.prometheusRules, mode: "0644", content: renderRules(host.prometheus) });
    if (host.prometheus.userRuleGroups.length) files.push({ path: debianPaths.prometheusUserRules, mode: "0644", content: renderUserRules(host.prometheus.userRuleGroups) });
    files.push(
      defaultsFile(debianPaths.defaults(units.prometheus()), {
        ARGS: `--web.listen-address=${host.prometheus.listenAddress}:${host.prometheus.port} --storage.tsdb.retention.time=${host.prometheus.retention}`,
      }),
    );
  }
  const am = host.alertmanager;
  if (am) {
    files.push({ path: debianPaths.alertmanagerConfig, mode: "0644", content: renderAlertmanagerConfig(am) });
    // Loopback only, and no cluster gossip port (the package default listens on 0.0.0.0:9094).
    files.push(defaultsFile(debianPaths.defaults(am.unit), { ARGS: `--config.file=${debianPaths.alertmanagerConfig} --web.listen-address=${am.listenAddress}:${am.port} --cluster.listen-address=` }));
    if (am.credentials.length) {
      files.push({
        path: debianPaths.dropIn(am.unit),
        mode: "0644",
        content: renderUnitFile({
          header: ["Managed by homefleet: receiver credentials, readable by Alertmanager under /run/credentials/ and by nothing else."],
          sections: { Service: { LoadCredential: am.credentials.map((c) => `${c.name}:${c.path}`) } },
        }),
      });
    }
  }
  return files;
}
