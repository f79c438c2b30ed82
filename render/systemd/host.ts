/**
 * Renders a plain-systemd (Debian) host: unit files, drop-ins, config files and scripts.
 * Packages come from Debian (podman, redis-server, postgresql-N); homefleet writes the units and
 * configuration around them.
 */
import { hardening } from "../../model/hardening";
import { bridgeOrdering, configPaths, SCRIPT_DIR, UNIT_DIR, units } from "../../model/paths";
import type { HostModel, StackModel } from "../../model/specs";
import { anchorInterface } from "../../model/specs";
import { renderLiteLLMConfig } from "../common/litellmConfig";
import { podmanExtraOptions, podmanNetworkFile, podmanNetworkFilePath, publishSpec, volumeSpecs } from "../common/podman";
import { hbaRules } from "../common/postgresHba";
import { renderPostgresConf } from "../common/postgresConf";
import { networkScript, postgresRoleScript, waitHttpScript, type ScriptSpec } from "../scripts";
import { scriptNamed } from "../scripts/registry";
import { activateScript } from "../scripts/activate";
import { renderSystemdOperations } from "./operations";
import { SAFE_PATH } from "./serviceUnit";
import type { RenderedFile } from "../types";
import { renderUnitFile, type UnitFile, type UnitSection } from "./unitWriter";
import { compareText } from "../../model/textOrder";

const PODMAN = "/usr/bin/podman";
const REDIS_SERVER = "/usr/bin/redis-server";

export const scriptPath = (script: ScriptSpec) => `${SCRIPT_DIR}/${script.name}`;

function header(what: string): string[] {
  return [`Managed by homefleet: ${what}.`, "Hand edits are reported as drift and replaced on the next deployment."];
}

function unitFile(name: string, unit: UnitFile): RenderedFile {
  return { path: `${UNIT_DIR}/${name}`, mode: "0644", content: renderUnitFile(unit) };
}


function networkUnit(stack: StackModel): RenderedFile {
  const net = stack.network;
  const prefix = (net.subnet as string).split("/")[1];
  return unitFile(units.network(stack.name), {
    header: header(`bridge ${net.interface} of podman network ${net.name} (stack ${stack.name})`),
    sections: {
      Unit: {
        Description: `homefleet bridge ${net.interface} for podman network ${net.name}`,
        After: "network-pre.target",
        Before: "network.target",
      },
      Service: {
        Type: "oneshot",
        RemainAfterExit: true,
        Environment: SAFE_PATH,
        ExecStart: { argv: [scriptPath(networkScript), net.interface as string, `${net.gateway}/${prefix}`, anchorInterface(net.interface as string)] },
        ...hardening.bridgeSetup,
      },
      Install: { WantedBy: "multi-user.target" },
    },
  });
}

function databaseRoleUnit(stack: StackModel, host: HostModel): RenderedFile {
  const db = stack.database!;
  const pg = host.postgres!;
  const server = units.postgres("systemd", pg.version);
  return unitFile(units.databaseRole(stack.name), {
    header: header(`database ${db.name} and role ${db.user} of stack ${stack.name}`),
    sections: {
      Unit: {
        Description: `homefleet PostgreSQL database ${db.name} for stack ${stack.name}`,
        After: server,
        Requires: server,
        PartOf: server,
      },
      Service: {
        Type: "oneshot",
        RemainAfterExit: true,
        User: "postgres",
        Group: "postgres",
        // The root-only password file reaches the postgres user as a credential, never as an argument.
        LoadCredential: `password:${db.passwordFile}`,
        Environment: SAFE_PATH,
        ExecStart: { argv: [scriptPath(postgresRoleScript), db.name, db.user, String(pg.port)] },
        ...hardening.postgresClient,
      },
      Install: { WantedBy: "multi-user.target" },
    },
  });
}

function redisFiles(stack: StackModel): RenderedFile[] {
  const cache = stack.cache!;
  const unitName = units.cache(stack.name);
  const dataDir = `/var/lib/redis-${stack.name}`;
  const conf = [
    `# Managed by homefleet: Redis of stack ${stack.name}. The password is included from a credential.`,
    `bind ${cache.bind.join(" ")}`,
    "protected-mode yes",
    `port ${cache.port}`,
    "daemonize no",
    "supervised systemd",
    'logfile ""',
    `dir ${dataDir}`,
    `maxmemory ${cache.maxMemory}`,
    `maxmemory-policy ${cache.maxMemoryPolicy}`,
    // seed 004: RDB and AOF together; everysec bounds loss to one second.
    `appendonly ${cache.appendOnly ? "yes" : "no"}`,
    `appendfsync ${cache.appendFsync}`,
    `save ${cache.save.map(([s, c]) => `${s} ${c}`).join(" ")}`,
    `include /run/credentials/${unitName}/auth.conf`,
    "",
  ].join("\n");
  const bridge = bridgeOrdering([stack]);
  return [
    { path: configPaths.redis(stack.name), mode: "0644", content: conf },
    unitFile(unitName, {
      header: header(`Redis of stack ${stack.name}, replacing Debian's single redis-server instance`),
      sections: {
        Unit: {
          Description: `homefleet Redis for stack ${stack.name}`,
          After: ["network.target", ...bridge.after],
          Requires: bridge.requires.length ? bridge.requires : undefined,
          Wants: bridge.wants.length ? bridge.wants : undefined,
        },
        Service: {
          Type: "notify",
          User: "redis",
          Group: "redis",
          ExecStart: { argv: [REDIS_SERVER, configPaths.redis(stack.name)] },
          LoadCredential: `auth.conf:${cache.authConfFile}`,
          StateDirectory: `redis-${stack.name}`,
          StateDirectoryMode: "0700",
          RuntimeDirectory: `redis-${stack.name}`,
          RuntimeDirectoryMode: "0750",
          Restart: "on-failure",
          RestartSec: "5s",
          TimeoutStopSec: "60s",
          LimitNOFILE: 10032,
          ...hardening.redisServer,
        },
        Install: { WantedBy: "multi-user.target" },
      },
    }),
  ];
}

function containerUnit(stack: StackModel): RenderedFile {
  const c = stack.container;
  const unitName = units.container(stack.name);
  const runtimeDir = `podman-${stack.name}`;
  const cidFile = `/run/${runtimeDir}/ctr-id`;
  const env = Object.keys(c.environment)
    .sort()
    .map((k) => `--env=${k}=${c.environment[k]}`);
  const run: string[] = [
    PODMAN,
    "run",
    `--name=${c.name}`,
    "--replace",
    "--rm",
    `--cidfile=${cidFile}`,
    "--sdnotify=conmon",
    "--pull=missing",
    "--log-driver=journald",
    ...podmanExtraOptions(c, stack.network),
    ...(stack.network.mode === "bridge" ? [`--publish=${publishSpec(c)}`] : []),
    ...(c.environmentFile ? [`--env-file=${c.environmentFile}`] : []),
    ...env,
    ...volumeSpecs(c).map((v) => `--volume=${v}`),
    c.image,
    ...c.command,
  ];
  const after = ["network-online.target", ...c.requires, ...c.wants];
  return unitFile(unitName, {
    header: header(`container ${c.name} of stack ${stack.name}`),
    sections: {
      Unit: {
        Description: `homefleet container ${c.name} (${c.image})`,
        Wants: ["network-online.target", ...c.wants],
        After: after,
        Requires: c.requires.length ? [...c.requires] : undefined,
        RequiresMountsFor: c.requiresMountsFor.length ? [...c.requiresMountsFor] : undefined,
        StartLimitIntervalSec: "600",
        StartLimitBurst: 5,
      },
      Service: {
        Type: "notify",
        NotifyAccess: "all",
        Environment: [SAFE_PATH, { envName: "PODMAN_SYSTEMD_UNIT", envValue: unitName }],
        RuntimeDirectory: runtimeDir,
        ExecStart: { argv: run },
        // The unit turns active only once the service answers its health check.
        ExecStartPost: { argv: [scriptPath(waitHttpScript), c.health.url, String(c.health.timeoutSec), String(c.health.intervalSec)] },
        ExecStop: { argv: [PODMAN, "stop", "--ignore", "--time=30", `--cidfile=${cidFile}`] },
        ExecStopPost: { argv: [PODMAN, "rm", "--force", "--ignore", `--cidfile=${cidFile}`], prefix: "-" },
        // Image pull plus the health wait; never infinite (nixpkgs' oci-containers default is 0).
        TimeoutStartSec: String(c.health.timeoutSec + 300),
        TimeoutStopSec: "70",
        Restart: c.restartPolicy,
        RestartSec: `${c.restartDelaySec}s`,
        MemoryMax: c.memoryMax,
        CPUQuota: c.cpuQuota,
        ...hardening.podman,
      },
      Install: { WantedBy: "multi-user.target" },
    },
  });
}

function postgresFiles(host: HostModel): RenderedFile[] {
  const pg = host.postgres!;
  const settings: Record<string, string | number> = {
    ...pg.settings,
    listen_addresses: pg.listenAddresses.join(","),
    port: pg.port,
  };
  const files: RenderedFile[] = [
    {
      path: configPaths.postgresConfD(pg.version),
      mode: "0644",
      owner: "postgres",
      group: "postgres",
      content: `# Managed by homefleet: PostgreSQL ${pg.version} settings for host ${host.name}.\n` + renderPostgresConf(settings),
    },
    {
      path: configPaths.postgresHba(pg.version),
      mode: "0640",
      owner: "postgres",
      group: "postgres",
      content: `# Managed by homefleet: client authentication for host ${host.name}. Never 'trust'.\n` + hbaRules(pg).join("\n") + "\n",
    },
  ];
  if (pg.bindInterfaces.length) {
    const bridge = bridgeOrdering(host.stacks.filter((s) => s.database));
    const dropIn: UnitSection = { After: bridge.after, Requires: bridge.requires, Wants: bridge.wants };
    files.push({
      path: `${UNIT_DIR}/${units.postgres("systemd", pg.version)}.d/50-homefleet.conf`,
      mode: "0644",
      content: renderUnitFile({
        header: [
          ...header(`ordering of PostgreSQL ${pg.version} after the bridges whose gateways it listens on`),
          "Without it PostgreSQL starts before the bridge exists and listens on localhost only.",
        ],
        sections: { Unit: dropIn },
      }),
    });
  }
  return files;
}

function tmpfiles(host: HostModel): RenderedFile | undefined {
  const lines = host.stacks.flatMap((s) => s.container.volumes.filter((v) => !v.readOnly).map((v) => `d ${v.source} 0750 root root -`));
  if (!lines.length) return undefined;
  return { path: "/etc/tmpfiles.d/homefleet.conf", mode: "0644", content: "# Managed by homefleet: data directories of container volumes.\n" + [...new Set(lines)].sort().join("\n") + "\n" };
}

export function renderSystemdHost(host: HostModel): RenderedFile[] {
  const files: RenderedFile[] = [];
  // The deployer runs the new generation's own copy of homefleet-activate.
  const needed = new Set<ScriptSpec>([waitHttpScript, activateScript]);
  for (const stack of host.stacks) {
    if (stack.network.mode === "bridge") {
      files.push({ path: podmanNetworkFilePath(stack.network), mode: "0644", content: podmanNetworkFile(stack.network) });
      files.push(networkUnit(stack));
      needed.add(networkScript);
    }
    if (stack.database) {
      files.push(databaseRoleUnit(stack, host));
      needed.add(postgresRoleScript);
    }
    if (stack.cache) files.push(...redisFiles(stack));
    if (stack.litellmConfig) files.push({ path: stack.litellmConfig.path, mode: "0644", content: renderLiteLLMConfig(stack.litellmConfig.document) });
    files.push(containerUnit(stack));
  }
  if (host.postgres) files.push(...postgresFiles(host));
  const tmp = tmpfiles(host);
  if (tmp) files.push(tmp);
  files.push(...renderSystemdOperations(host));
  for (const svc of host.operations.services) for (const e of svc.execStart) if ("script" in e.program) needed.add(scriptNamed(e.program.script));
  for (const script of [...needed].sort((a, b) => compareText(a.name, b.name))) files.push({ path: scriptPath(script), mode: "0755", content: script.text });
  return files.sort((a, b) => compareText(a.path, b.path));
}
