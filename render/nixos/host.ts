/**
 * Renders a NixOS host: one module per stack plus a host module, under /etc/nixos/homefleet,
 * imported by the host's configuration.nix as `./homefleet`. Options are the ones of nixpkgs
 * 25.05/25.11 (services.postgresql, services.redis.servers, virtualisation.oci-containers).
 *
 * Secret files are referenced by *string* paths: a Nix path literal would copy the secret into
 * the world-readable Nix store.
 */
import { bridgeOrdering, configPaths, NIXOS_MODULE_DIR, units } from "../../model/paths";
import type { HostModel, StackModel } from "../../model/specs";
import { anchorInterface } from "../../model/specs";
import { hardening } from "../../model/hardening";
import { renderLiteLLMConfig } from "../common/litellmConfig";
import { podmanExtraOptions, podmanNetworkFile, podmanNetworkFilePath, publishSpec, volumeSpecs } from "../common/podman";
import { hbaRules } from "../common/postgresHba";
import { NixExpr, renderNixModule, type NixValue } from "../nix/writer";
import { networkScript, postgresRoleScript, waitHttpScript, type ScriptSpec } from "../scripts";
import type { RenderedFile } from "../types";
import { scriptNamed } from "../scripts/registry";
import { renderNixosOperations } from "./operations";
import { nixExec, nixServiceConfig, scriptBindingName, scriptDerivation } from "./serviceUnit";
import { compareText } from "../../model/textOrder";

const lib = (fn: string, ...args: NixValue[]) => NixExpr.call(`lib.${fn}`, ...args);

/** An Exec*= value: store path of a script plus arguments escaped for systemd. */
function execScript(script: ScriptSpec, args: readonly string[]): NixExpr {
  return nixExec({ program: { script: script.name }, args });
}

/** Strip the `.service` suffix: NixOS names services by attribute. */
const attr = (unit: string) => unit.replace(/\.service$/, "");

function stackModule(stack: StackModel, host: HostModel): { module: RenderedFile; extra: RenderedFile[] } {
  const bindings: Record<string, NixValue> = {};
  const body: Record<string, NixValue> = {};
  const services: Record<string, NixValue | undefined> = {};
  const extra: RenderedFile[] = [];
  const c = stack.container;
  const etc: Record<string, NixValue> = {};

  bindings[scriptBindingName(waitHttpScript.name)] = scriptDerivation(waitHttpScript.name);

  if (stack.network.mode === "bridge") {
    const net = stack.network;
    const prefix = (net.subnet as string).split("/")[1];
    bindings[scriptBindingName(networkScript.name)] = scriptDerivation(networkScript.name);
    etc[podmanNetworkFilePath(net).replace(/^\/etc\//, "")] = { text: podmanNetworkFile(net) };
    services[attr(units.network(stack.name))] = {
      description: `homefleet bridge ${net.interface} for podman network ${net.name}`,
      after: ["network-pre.target"],
      before: ["network.target"],
      wantedBy: ["multi-user.target"],
      serviceConfig: {
        Type: "oneshot",
        RemainAfterExit: true,
        ExecStart: execScript(networkScript, [net.interface as string, `${net.gateway}/${prefix}`, anchorInterface(net.interface as string)]),
        ...nixServiceConfig(hardening.bridgeSetup),
      },
    };
    // Containers reach PostgreSQL and Redis on the gateway: open only those ports, only on this bridge.
    const ports = [...(stack.database && host.postgres ? [host.postgres.port] : []), ...(stack.cache ? [stack.cache.port] : [])];
    if (ports.length) body.networking = { firewall: { interfaces: { [net.interface as string]: { allowedTCPPorts: ports } } } };
  }

  if (stack.database && host.postgres) {
    const db = stack.database;
    bindings[scriptBindingName(postgresRoleScript.name)] = scriptDerivation(postgresRoleScript.name);
    services[attr(units.databaseRole(stack.name))] = {
      description: `homefleet PostgreSQL database ${db.name} for stack ${stack.name}`,
      after: ["postgresql.service"],
      requires: ["postgresql.service"],
      partOf: ["postgresql.service"],
      wantedBy: ["multi-user.target"],
      serviceConfig: {
        Type: "oneshot",
        RemainAfterExit: true,
        User: "postgres",
        Group: "postgres",
        // ensureUsers cannot set passwords; one script for both flavours keeps them identical.
        LoadCredential: [`password:${db.passwordFile}`],
        ExecStart: execScript(postgresRoleScript, [db.name, db.user, String(host.postgres.port)]),
        ...nixServiceConfig(hardening.postgresClient),
      },
    };
  }

  if (stack.cache) {
    const cache = stack.cache;
    body.services = {
      redis: {
        servers: {
          [stack.name]: {
            enable: true,
            bind: cache.bind.join(" "),
            port: cache.port,
            requirePassFile: cache.passwordFile,
            // seed 004: RDB and AOF together; everysec bounds loss to one second.
            appendOnly: cache.appendOnly,
            appendFsync: cache.appendFsync,
            save: cache.save.map(([s, n]) => [s, n]),
            settings: { maxmemory: cache.maxMemory, "maxmemory-policy": cache.maxMemoryPolicy },
          },
        },
      },
    };
    const bridge = bridgeOrdering([stack]);
    if (bridge.after.length) services[attr(units.cache(stack.name))] = { after: bridge.after, requires: bridge.requires, wants: bridge.wants };
  }

  if (stack.litellmConfig) {
    const relative = `${stack.name}/litellm-config.yaml`;
    extra.push({ path: `${NIXOS_MODULE_DIR}/${relative}`, mode: "0644", content: renderLiteLLMConfig(stack.litellmConfig.document) });
    etc[configPaths.litellm(stack.name).replace(/^\/etc\//, "")] = { source: NixExpr.relativePath(`./${relative}`), mode: "0444" };
  }

  const containerAttrs: Record<string, NixValue | undefined> = {
    image: c.image,
    cmd: c.command.length ? [...c.command] : undefined,
    ports: stack.network.mode === "bridge" ? [publishSpec(c)] : undefined,
    environment: Object.keys(c.environment).length ? { ...c.environment } : undefined,
    environmentFiles: c.environmentFile ? [c.environmentFile] : undefined,
    volumes: volumeSpecs(c).length ? volumeSpecs(c) : undefined,
    extraOptions: podmanExtraOptions(c, stack.network),
  };
  const containerUnit = attr(units.container(stack.name));
  services[containerUnit] = {
    after: [...c.requires, ...c.wants],
    requires: c.requires.length ? [...c.requires] : undefined,
    wants: c.wants.length ? [...c.wants] : undefined,
    startLimitBurst: 5,
    startLimitIntervalSec: 600,
    unitConfig: c.requiresMountsFor.length ? { RequiresMountsFor: [...c.requiresMountsFor] } : undefined,
    serviceConfig: {
      // oci-containers defaults: Restart=always and TimeoutStartSec=0 (wait forever).
      Restart: lib("mkForce", c.restartPolicy),
      RestartSec: `${c.restartDelaySec}s`,
      TimeoutStartSec: lib("mkForce", c.health.timeoutSec + 300),
      MemoryMax: c.memoryMax,
      CPUQuota: c.cpuQuota,
      // The unit turns active only once the service answers its health check.
      ExecStartPost: [execScript(waitHttpScript, [c.health.url, String(c.health.timeoutSec), String(c.health.intervalSec)])],
    },
  };

  const moduleBody: Record<string, NixValue | undefined> = {
    ...body,
    virtualisation: { "oci-containers": { backend: "podman", containers: { [c.name]: containerAttrs } } },
    systemd: { services },
    environment: Object.keys(etc).length ? { etc } : undefined,
  };

  const text = renderNixModule({
    header: [`Managed by homefleet: stack ${stack.name} (${stack.kind}) on host ${host.name}.`, "Hand edits are reported as drift and replaced on the next deployment."],
    args: ["config", "lib", "pkgs"],
    bindings,
    body: moduleBody,
  });
  return { module: { path: `${NIXOS_MODULE_DIR}/${stack.name}.nix`, mode: "0644", content: text }, extra };
}

function hostModule(host: HostModel): RenderedFile {
  const body: Record<string, NixValue | undefined> = {
    virtualisation: { podman: { enable: true } },
    systemd: {
      tmpfiles: {
        // Secret files are written here by the deployer: root-only, persistent, outside the store.
        rules: ["d /var/lib/homefleet 0700 root root -", "d /var/lib/homefleet/secrets 0700 root root -", ...host.stacks.flatMap((s) => s.container.volumes.filter((v) => !v.readOnly).map((v) => `d ${v.source} 0750 root root -`))],
      },
    },
  };
  if (host.postgres) {
    const pg = host.postgres;
    const bridge = bridgeOrdering(host.stacks.filter((s) => s.database));
    const settings: Record<string, NixValue> = { ...pg.settings, port: pg.port, listen_addresses: lib("mkForce", pg.listenAddresses.join(",")) };
    body.services = {
      postgresql: {
        enable: true,
        package: NixExpr.ref(`pkgs.postgresql_${pg.version}`),
        enableTCPIP: true,
        settings,
        // Forced: nixpkgs appends (mkAfter) `local all all peer` and `host all all 127.0.0.1/32
        // md5` (and ::1), which would let any role reach any database from loopback. homefleet's
        // list is the whole file; it keeps peer for the postgres superuser, which nixpkgs' own
        // setup (ensureDatabases, postStart) uses.
        authentication: lib("mkForce", hbaRules(pg).join("\n") + "\n"),
      },
    };
    if (bridge.after.length) {
      // seed 001: without this PostgreSQL starts before the bridge exists and listens on localhost only.
      (body.systemd as Record<string, NixValue>).services = { postgresql: { after: bridge.after, requires: bridge.requires, wants: bridge.wants } };
    }
  }
  return {
    path: `${NIXOS_MODULE_DIR}/host.nix`,
    mode: "0644",
    content: renderNixModule({
      header: [`Managed by homefleet: host-wide settings of ${host.name} (${host.arch}).`],
      args: ["lib", "pkgs"],
      body,
    }),
  };
}

export function renderNixosHost(host: HostModel): RenderedFile[] {
  const files: RenderedFile[] = [hostModule(host)];
  const scripts = new Set<ScriptSpec>([waitHttpScript]);
  const imports: NixValue[] = [NixExpr.relativePath("./host.nix")];
  for (const stack of host.stacks) {
    const { module, extra } = stackModule(stack, host);
    files.push(module, ...extra);
    imports.push(NixExpr.relativePath(`./${stack.name}.nix`));
    if (stack.network.mode === "bridge") scripts.add(networkScript);
    if (stack.database) scripts.add(postgresRoleScript);
  }
  const operations = renderNixosOperations(host);
  files.push(...operations.files);
  imports.push(NixExpr.relativePath("./operations.nix"));
  for (const name of operations.scripts) scripts.add(scriptNamed(name));
  for (const script of [...scripts].sort((a, b) => compareText(a.name, b.name))) files.push({ path: `${NIXOS_MODULE_DIR}/scripts/${script.name}.sh`, mode: "0644", content: script.text });
  files.push({
    path: `${NIXOS_MODULE_DIR}/default.nix`,
    mode: "0644",
    content: renderNixModule({
      header: [`Managed by homefleet: entry point for host ${host.name}; import it from configuration.nix as ./homefleet.`],
      args: [],
      body: { imports },
    }),
  });
  return files.sort((a, b) => compareText(a.path, b.path));
}
