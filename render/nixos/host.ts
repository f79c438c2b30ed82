/**
 * Renders a NixOS host: one module per stack plus a host module, under /etc/nixos/homefleet,
 * imported by the host's configuration.nix as `./homefleet`. Options are the ones of nixpkgs
 * 25.05/25.11 (services.postgresql, services.redis.servers, virtualisation.oci-containers).
 *
 * Secret files are referenced by *string* paths: a Nix path literal would copy the secret into
 * the world-readable Nix store.
 */
import { unitNamed, unitScripts } from "../../model/hostUnits";
import { configPaths, NIXOS_MODULE_DIR, serviceName, units } from "../../model/paths";
import type { HostModel, ProxySpec, StackModel } from "../../model/specs";
import { renderLiteLLMConfig } from "../common/litellmConfig";
import { joinsSeveralNetworks, networkValues, podmanExtraOptions, podmanNetworkFile, podmanNetworkFilePath, publishSpecs, volumeSpecs } from "../common/podman";
import { hbaRules } from "../common/postgresHba";
import { NixExpr, renderNixModule, type NixValue } from "../nix/writer";
import { waitHttpScript, type ScriptSpec } from "../scripts";
import type { RenderedFile } from "../types";
import { scriptNamed } from "../scripts/registry";
import { renderNixosOperations } from "./operations";
import { nativeModuleOptions, nativeUnitSettings } from "./native";
import { nixExec, nixService, scriptBindingName, scriptDerivation } from "./serviceUnit";
import { compareText, sortByText } from "../../model/textOrder";

const lib = (fn: string, ...args: NixValue[]) => NixExpr.call(`lib.${fn}`, ...args);

/** An Exec*= value: store path of a script plus arguments escaped for systemd. */
function execScript(script: ScriptSpec, args: readonly string[]): NixExpr {
  return nixExec({ program: { script: script.name }, args });
}

/** NixOS names services by attribute: the unit name without `.service`. */
const attr = serviceName;

function stackModule(stack: StackModel, host: HostModel): { module: RenderedFile; extra: RenderedFile[] } {
  const bindings: Record<string, NixValue> = {};
  const body: Record<string, NixValue> = {};
  const services: Record<string, NixValue | undefined> = {};
  const extra: RenderedFile[] = [];
  const etc: Record<string, NixValue> = {};

  for (const spec of stack.setupUnits) {
    services[spec.name] = nixService(spec);
    for (const script of unitScripts(spec)) bindings[scriptBindingName(script)] = scriptDerivation(script);
  }
  if (stack.network.mode === "bridge") {
    const net = stack.network;
    etc[podmanNetworkFilePath(net).replace(/^\/etc\//, "")] = { text: podmanNetworkFile(net) };
    // Containers reach PostgreSQL and Redis on the gateway: open only those ports, only on this bridge.
    const ports = [...(stack.database && host.postgres ? [host.postgres.port] : []), ...(stack.cache ? [stack.cache.port] : [])];
    if (ports.length) body.networking = { firewall: { interfaces: { [net.interface as string]: { allowedTCPPorts: ports } } } };
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
    const order = unitNamed(host, units.cache(stack.name));
    if (order.after.length) services[attr(order.name)] = { after: [...order.after], requires: [...order.requires], wants: [...order.wants] };
  }

  if (stack.litellmConfig) {
    const relative = `${stack.name}/litellm-config.yaml`;
    extra.push({ path: `${NIXOS_MODULE_DIR}/${relative}`, mode: "0644", content: renderLiteLLMConfig(stack.litellmConfig.document) });
    etc[configPaths.litellm(stack.name).replace(/^\/etc\//, "")] = { source: NixExpr.relativePath(`./${relative}`), mode: "0444" };
  }

  if (stack.native) {
    const native = stack.native;
    const module = native.module as readonly string[];
    // services.<module> beside the stack's Redis, if it has one (module paths are services.<name>).
    const servicesAttrs = ((body.services as Record<string, NixValue> | undefined) ?? {}) as Record<string, NixValue>;
    body.services = { ...servicesAttrs, [module.slice(1).join(".")]: nativeModuleOptions(native) };
    Object.assign(services, nativeUnitSettings(host, native));
    const text = renderNixModule({
      header: [`Managed by homefleet: stack ${stack.name} (${native.title}, nixpkgs ${module.join(".")}) on host ${host.name}.`, "Hand edits are reported as drift and replaced on the next deployment."],
      args: ["config", "lib", "pkgs"],
      bindings,
      body: { ...body, systemd: Object.keys(services).length ? { services } : undefined, environment: Object.keys(etc).length ? { etc } : undefined },
    });
    return { module: { path: `${NIXOS_MODULE_DIR}/${stack.name}.nix`, mode: "0644", content: text }, extra };
  }

  const c = stack.container!;
  bindings[scriptBindingName(waitHttpScript.name)] = scriptDerivation(waitHttpScript.name);
  const containerAttrs: Record<string, NixValue | undefined> = {
    image: c.image,
    cmd: c.command.length ? [...c.command] : undefined,
    ports: c.published.length ? publishSpecs(c) : undefined,
    environment: Object.keys(c.environment).length ? { ...c.environment } : undefined,
    environmentFiles: c.environmentFile ? [c.environmentFile] : undefined,
    volumes: volumeSpecs(c).length ? volumeSpecs(c) : undefined,
    // oci-containers' own options (nixpkgs 25.05+): `devices` as --device=, `networks` as --network= each.
    devices: c.devices.length ? [...c.devices] : undefined,
    networks: joinsSeveralNetworks(c) ? networkValues(c) : undefined,
    extraOptions: podmanExtraOptions(c, stack.network, { networks: !joinsSeveralNetworks(c) }),
  };
  const containerOrder = unitNamed(host, units.container(stack.name));
  services[attr(containerOrder.name)] = {
    after: [...containerOrder.after],
    requires: containerOrder.requires.length ? [...containerOrder.requires] : undefined,
    wants: containerOrder.wants.length ? [...containerOrder.wants] : undefined,
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

/**
 * nixpkgs' services.nginx: per virtual host an HTTPS server (certificate paths as strings, never
 * copied into the store) and, per certificate, a port-80 server that forwards HTTP-01 challenges
 * to the certificate's responder and redirects the rest.
 */
function nginxModule(proxy: ProxySpec): NixValue {
  const virtualHosts: Record<string, NixValue> = {};
  const listen = (port: number, ssl: boolean) => [{ addr: proxy.listenAddress, port, ssl }];
  for (const v of proxy.vhosts) {
    virtualHosts[v.name] = {
      serverName: v.domains[0],
      serverAliases: v.domains.slice(1),
      onlySSL: true,
      listen: listen(443, true),
      sslCertificate: v.certFile,
      sslCertificateKey: v.keyFile,
      extraConfig: `client_max_body_size ${v.maxBodySize};\n`,
      locations: { "/": { proxyPass: v.upstream, proxyWebsockets: v.websockets, extraConfig: `proxy_read_timeout ${v.readTimeoutSec}s;\n` } },
    };
  }
  for (const c of proxy.challenges) {
    virtualHosts[`acme-challenge-${c.port}`] = {
      serverName: c.domains[0],
      serverAliases: c.domains.slice(1),
      listen: listen(80, false),
      locations: {
        "/.well-known/acme-challenge/": { proxyPass: `http://127.0.0.1:${c.port}` },
        "/": { return: "301 https://$host$request_uri" },
      },
    };
  }
  return { enable: true, recommendedProxySettings: true, recommendedTlsSettings: true, virtualHosts };
}

function hostModule(host: HostModel): RenderedFile {
  const body: Record<string, NixValue | undefined> = {
    virtualisation: { podman: { enable: true } },
    systemd: {
      tmpfiles: {
        // Secret files are written here by the deployer: root-only, persistent, outside the store.
        rules: ["d /var/lib/homefleet 0700 root root -", "d /var/lib/homefleet/secrets 0700 root root -", ...host.stacks.flatMap((s) => (s.container?.volumes ?? []).filter((v) => !v.readOnly).map((v) => `d ${v.source} 0750 root root -`))],
      },
    },
  };
  if (host.postgres) {
    const pg = host.postgres;
    const order = unitNamed(host, units.postgres("nixos", pg.version));
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
    if (order.after.length) {
      // Without this PostgreSQL starts before the bridge exists and listens on localhost only.
      (body.systemd as Record<string, NixValue>).services = { [attr(order.name)]: { after: [...order.after], requires: [...order.requires], wants: [...order.wants] } };
    }
  }
  if (host.proxy) {
    body.services = { ...((body.services as Record<string, NixValue> | undefined) ?? {}), nginx: nginxModule(host.proxy) };
    // The NixOS firewall drops everything not opened: a proxy on a LAN address must be reachable.
    if (host.proxy.listenAddress !== "127.0.0.1") body.networking = { firewall: { allowedTCPPorts: [80, 443] } };
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
    for (const spec of stack.setupUnits) for (const script of unitScripts(spec)) scripts.add(scriptNamed(script));
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
  return sortByText(files, (f) => f.path);
}
