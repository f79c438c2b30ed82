/**
 * Renders a plain-systemd (Debian) host: unit files, drop-ins, config files and scripts.
 * Packages come from Debian (podman, redis-server, postgresql-N); homefleet writes the units and
 * configuration around them.
 */
import { hardening } from "../../model/hardening";
import { nativeDropInNeeded, nativeServiceUnits, unitNamed, unitScripts } from "../../model/hostUnits";
import { configPaths, debianPaths, SCRIPT_DIR, units } from "../../model/paths";
import type { HostModel, StackModel } from "../../model/specs";
import { renderLiteLLMConfig } from "../common/litellmConfig";
import { deviceAllow, podmanExtraOptions, podmanNetworkFile, podmanNetworkFilePath, publishSpecs, volumeSpecs } from "../common/podman";
import { hbaRules } from "../common/postgresHba";
import { renderPostgresConf } from "../common/postgresConf";
import { renderNginxProxy } from "../common/nginx";
import { waitHttpScript, type ScriptSpec } from "../scripts";
import { scriptNamed } from "../scripts/registry";
import { activateScript } from "../scripts/activate";
import { renderSystemdOperations } from "./operations";
import { renderServiceUnit, SAFE_PATH } from "./serviceUnit";
import type { RenderedFile } from "../types";
import { renderUnitFile, type UnitFile, type UnitSection } from "./unitWriter";
import { compareText, sortByText } from "../../model/textOrder";

const PODMAN = "/usr/bin/podman";
const REDIS_SERVER = "/usr/bin/redis-server";

export const scriptPath = (script: ScriptSpec) => `${SCRIPT_DIR}/${script.name}`;

function header(what: string): string[] {
  return [`Managed by homefleet: ${what}.`, "Hand edits are reported as drift and replaced on the next deployment."];
}

function unitFile(name: string, unit: UnitFile): RenderedFile {
  return { path: debianPaths.unitFile(name), mode: "0644", content: renderUnitFile(unit) };
}


function redisFiles(stack: StackModel, host: HostModel): RenderedFile[] {
  const cache = stack.cache!;
  const unitName = units.cache(stack.name);
  const order = unitNamed(host, unitName);
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
  return [
    { path: configPaths.redis(stack.name), mode: "0644", content: conf },
    unitFile(unitName, {
      header: header(`Redis of stack ${stack.name}, replacing Debian's single redis-server instance`),
      sections: {
        Unit: {
          Description: `homefleet Redis for stack ${stack.name}`,
          After: order.after,
          Requires: order.requires,
          Wants: order.wants,
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

function containerUnit(stack: StackModel, host: HostModel): RenderedFile {
  const c = stack.container!;
  const unitName = units.container(stack.name);
  const order = unitNamed(host, unitName);
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
    ...publishSpecs(c).map((p) => `--publish=${p}`),
    ...c.devices.map((d) => `--device=${d}`),
    ...(c.environmentFile ? [`--env-file=${c.environmentFile}`] : []),
    ...env,
    ...volumeSpecs(c).map((v) => `--volume=${v}`),
    c.image,
    ...c.command,
  ];
  return unitFile(unitName, {
    header: header(`container ${c.name} of stack ${stack.name}`),
    sections: {
      Unit: {
        Description: `homefleet container ${c.name} (${c.image})`,
        Wants: order.wants,
        After: order.after,
        Requires: order.requires,
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
        DeviceAllow: c.devices.length ? deviceAllow(c.devices) : undefined,
      },
      Install: { WantedBy: "multi-user.target" },
    },
  });
}

/**
 * A native service's drop-ins: Debian's packaged unit stays as the package wrote it; homefleet
 * adds its ordering (database role, cache), the mounts its data needs, the database credential
 * and limits. No sandboxing is added: the packaged units of these daemons (smbd, postfix's master,
 * dovecot, avahi) change users, bind privileged ports and write where their configuration says,
 * which a generic sandbox would break.
 */
function nativeDropIns(stack: StackModel, host: HostModel): RenderedFile[] {
  const native = stack.native!;
  if (!nativeDropInNeeded(native)) return [];
  const services = nativeServiceUnits(native);
  return services.map((name) => {
    const order = unitNamed(host, name);
    return {
      path: debianPaths.dropIn(name),
      mode: "0644",
      content: renderUnitFile({
        header: header(`${native.title} (package ${native.package}) of stack ${stack.name}: homefleet's ordering, mounts and limits for ${name}`),
        sections: {
          Unit: {
            After: order.after,
            Wants: order.wants,
            RequiresMountsFor: native.requiresMountsFor.length ? [...native.requiresMountsFor] : undefined,
          },
          Service: {
            LoadCredential: name === services[0] && native.credentials.length ? native.credentials.map((c) => `${c.name}:${c.path}`) : undefined,
            MemoryMax: order.memoryMax,
            CPUQuota: order.cpuQuota,
          },
        },
      }),
    };
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
    const order = unitNamed(host, units.postgres("systemd", pg.version));
    const dropIn: UnitSection = { After: order.after, Requires: order.requires, Wants: order.wants };
    files.push({
      path: debianPaths.dropIn(units.postgres("systemd", pg.version)),
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
  const lines = host.stacks.flatMap((s) => (s.container?.volumes ?? []).filter((v) => !v.readOnly).map((v) => `d ${v.source} 0750 root root -`));
  if (!lines.length) return undefined;
  return { path: "/etc/tmpfiles.d/homefleet.conf", mode: "0644", content: "# Managed by homefleet: data directories of container volumes.\n" + [...new Set(lines)].sort().join("\n") + "\n" };
}

export function renderSystemdHost(host: HostModel): RenderedFile[] {
  const files: RenderedFile[] = [];
  // The deployer runs the new generation's own copy of homefleet-activate.
  const needed = new Set<ScriptSpec>([waitHttpScript, activateScript]);
  for (const stack of host.stacks) {
    if (stack.network.mode === "bridge") files.push({ path: podmanNetworkFilePath(stack.network), mode: "0644", content: podmanNetworkFile(stack.network) });
    files.push(...stack.setupUnits.map(renderServiceUnit));
    if (stack.cache) files.push(...redisFiles(stack, host));
    if (stack.litellmConfig) files.push({ path: stack.litellmConfig.path, mode: "0644", content: renderLiteLLMConfig(stack.litellmConfig.document) });
    if (stack.native) files.push(...nativeDropIns(stack, host));
    else files.push(containerUnit(stack, host));
  }
  if (host.postgres) files.push(...postgresFiles(host));
  if (host.proxy) files.push({ path: debianPaths.nginxProxy, mode: "0644", content: renderNginxProxy(host.proxy) });
  const tmp = tmpfiles(host);
  if (tmp) files.push(tmp);
  files.push(...renderSystemdOperations(host));
  for (const svc of [...host.stacks.flatMap((s) => s.setupUnits), ...host.operations.services]) for (const script of unitScripts(svc)) needed.add(scriptNamed(script));
  for (const script of [...needed].sort((a, b) => compareText(a.name, b.name))) files.push({ path: scriptPath(script), mode: "0755", content: script.text });
  return sortByText(files, (f) => f.path);
}
