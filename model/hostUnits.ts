/**
 * The units of a host as facts: for each unit homefleet writes or configures, its ordering, what
 * it reads and whether a deployment starts it. Computed once from the model; the bundle (what a
 * changed file restarts) and the review (the unit graph and its checks) read these, never the
 * rendered text; the renderers print the ordering of the units they write from here. The ordering
 * is what homefleet writes on the host's flavour (a nixpkgs module's own After= is not repeated).
 * Names and paths come from ./paths.
 */
import { isLoopback } from "./operations";
import { bridgeOrdering, configPaths, debianPaths, units } from "./paths";
import { sortByText } from "./textOrder";
import type { ExecSpec, HostModel, HostUnitSpec, NativeServiceSpec, ServiceUnitSpec, StackModel } from "./specs";

type UnitFacts = Partial<HostUnitSpec> & Pick<HostUnitSpec, "name" | "source">;

// Loops, not flatMap or spreads, in what every service unit goes through (3 600 units for 200
// hosts): Node 20's Array.prototype.flatMap takes about a microsecond a call even for two or three
// items, tens of times a loop's time.

/** Every command a service unit runs, in the order systemd runs them. */
export function unitExecs(spec: ServiceUnitSpec): ExecSpec[] {
  const execs: ExecSpec[] = [];
  for (const list of [spec.execStartPre, spec.execStart, spec.execStartPost, spec.execStopPost]) if (list) for (const exec of list) execs.push(exec);
  return execs;
}

/** The homefleet scripts a service unit runs. */
export function unitScripts(spec: ServiceUnitSpec): string[] {
  const scripts: string[] = [];
  for (const exec of unitExecs(spec)) if ("script" in exec.program) scripts.push(exec.program.script);
  return scripts;
}

/** A unit's facts with everything not given empty: no ordering, nothing read, started. */
export function unit(facts: UnitFacts): HostUnitSpec {
  return {
    after: [],
    before: [],
    requires: [],
    wants: [],
    partOf: [],
    start: true,
    reads: [],
    secretFiles: [],
    environment: {},
    arguments: [],
    defaultDependencies: true,
    ...facts,
  };
}

/** On a plain systemd host a unit reads its own file (and drop-ins); NixOS' switch decides restarts itself. */
const onDebian = (host: Pick<HostModel, "os">, ...paths: (string | undefined | false)[]): string[] => (host.os === "systemd" ? paths.filter((p): p is string => !!p) : []);

function serviceUnit(host: Pick<HostModel, "os">, spec: ServiceUnitSpec): HostUnitSpec {
  const name = `${spec.name}.service`;
  const args: string[] = [];
  for (const exec of unitExecs(spec)) for (const arg of exec.args) args.push(arg);
  const secretFiles: string[] = [];
  for (const credential of spec.credentials ?? []) secretFiles.push(credential.path);
  for (const file of spec.environmentFiles ?? []) secretFiles.push(file);
  const facts: { -readonly [K in keyof UnitFacts]: UnitFacts[K] } = {
    name,
    source: "homefleet",
    after: spec.after ?? [],
    before: spec.before ?? [],
    requires: spec.requires ?? [],
    partOf: spec.partOf ?? [],
    wants: spec.wants ?? [],
    start: !!spec.wantedBy?.length,
    reads: onDebian(host, debianPaths.unitFile(name)),
    secretFiles,
    environment: spec.environment ?? {},
    arguments: args,
    defaultDependencies: spec.service?.DefaultDependencies !== "no",
  };
  if (spec.stack) facts.stack = spec.stack;
  return unit(facts);
}

function stackUnits(host: Omit<HostModel, "units">, stack: StackModel): HostUnitSpec[] {
  const result: HostUnitSpec[] = [];
  const net = stack.network;
  const bridge = bridgeOrdering([stack]);
  for (const spec of stack.setupUnits) result.push(serviceUnit(host, spec));
  if (stack.cache) {
    const name = units.cache(stack.name);
    result.push(
      unit({
        name,
        source: "homefleet",
        stack: stack.name,
        // On NixOS the module orders it after network.target itself.
        after: [...(host.os === "systemd" ? ["network.target"] : []), ...bridge.after],
        requires: bridge.requires,
        wants: bridge.wants,
        reads: onDebian(host, debianPaths.unitFile(name), configPaths.redis(stack.name)),
        // Debian: a requirepass include through LoadCredential; NixOS: requirePassFile.
        secretFiles: [host.os === "systemd" ? stack.cache.authConfFile : stack.cache.passwordFile],
      }),
    );
  }
  if (stack.native) {
    result.push(...nativeUnits(host, stack.name, stack.native));
    return result;
  }
  const c = stack.container!;
  const name = units.container(stack.name);
  // The image is pulled when the unit starts: after the network is online (NixOS' oci-containers orders that itself).
  const online = host.os === "systemd" ? ["network-online.target"] : [];
  result.push(
    unit({
      name,
      source: "homefleet",
      stack: stack.name,
      after: [...online, ...c.requires, ...c.wants],
      requires: c.requires,
      wants: [...online, ...c.wants],
      // The definitions of every bridge it joins (its own, and those of the stacks it links to).
      reads: onDebian(host, debianPaths.unitFile(name), stack.litellmConfig?.path, ...c.networks.map((n) => configPaths.podmanNetwork(n.name))),
      secretFiles: c.environmentFile ? [c.environmentFile] : [],
      arguments: [c.image, ...c.command, ...Object.entries(c.environment).map(([k, v]) => `${k}=${v}`), ...c.volumes.flatMap((v) => [v.source, v.target]), ...c.devices],
      memoryMax: c.memoryMax,
      cpuQuota: c.cpuQuota,
    }),
  );
  return result;
}

/**
 * The units of a native service: the distribution's, with homefleet's ordering (after the stack's
 * database role and cache), mounts and limits in a drop-in of each service unit (Debian) or in
 * the module's systemd.services entry (NixOS). A timer-driven oneshot is not started itself.
 */
function nativeUnits(host: Omit<HostModel, "units">, stack: string, native: NativeServiceSpec): HostUnitSpec[] {
  const credentialUnit = nativeServiceUnits(native)[0];
  return native.units.map((u) => {
    const service = u.name.endsWith(".service");
    const main = u.name === credentialUnit;
    return unit({
      name: u.name,
      source: "distribution",
      stack,
      after: service ? [...native.after] : [],
      wants: service ? [...native.wants] : [],
      start: u.start,
      reads: service ? onDebian(host, nativeDropInNeeded(native) && debianPaths.dropIn(u.name)) : [],
      secretFiles: service && main ? native.credentials.map((c) => c.path) : [],
      ...(service && native.memoryMax ? { memoryMax: native.memoryMax } : {}),
      ...(service && native.cpuQuota ? { cpuQuota: native.cpuQuota } : {}),
    });
  });
}

/** The service units of a native service (not its timer), the first the one that receives the credentials. */
export function nativeServiceUnits(native: NativeServiceSpec): string[] {
  return native.units.filter((u) => u.name.endsWith(".service")).map((u) => u.name);
}

/** Whether homefleet has anything to say to a native service's units (else no drop-in is written). */
export function nativeDropInNeeded(native: NativeServiceSpec): boolean {
  return native.after.length > 0 || native.requiresMountsFor.length > 0 || native.credentials.length > 0 || !!native.memoryMax || !!native.cpuQuota;
}

/** Packaged units homefleet configures: PostgreSQL, the exporters, Prometheus and Alertmanager. */
function distributionUnits(host: Omit<HostModel, "units">): HostUnitSpec[] {
  const result: HostUnitSpec[] = [];
  const pg = host.postgres;
  if (pg) {
    const name = units.postgres(host.os, pg.version);
    // It listens on the bridges' gateways: it must start after them (Debian: a drop-in; NixOS: the module's unit).
    const bridge = pg.bindInterfaces.length ? bridgeOrdering(host.stacks.filter((s) => s.database)) : { after: [], requires: [], wants: [] };
    result.push(
      unit({
        name,
        source: "distribution",
        after: bridge.after,
        requires: bridge.requires,
        wants: bridge.wants,
        reads: onDebian(host, pg.bindInterfaces.length > 0 && debianPaths.dropIn(name), configPaths.postgresConfD(pg.version), configPaths.postgresHba(pg.version)),
      }),
    );
  }
  for (const e of host.operations.exporters) {
    if (e.kind === "redis") continue; // homefleet's own unit, among the operations' services
    const name = units.exporter(e.kind);
    // nixpkgs' exporter units on a LAN address are ordered after the network is online (homefleet adds it).
    const online = host.os === "nixos" && !isLoopback(e.address) ? ["network-online.target"] : [];
    // Every other packaged exporter reads only its /etc/default file.
    const reads: Partial<Record<typeof e.kind, (string | false)[]>> = {
      postgres: [debianPaths.defaults(name), debianPaths.dropIn(name)],
      blackbox: [debianPaths.blackboxConfig, debianPaths.defaults(name)],
    };
    result.push(unit({ name, source: "distribution", after: online, wants: online, reads: onDebian(host, ...(reads[e.kind] ?? [debianPaths.defaults(name)])) }));
  }
  if (host.prometheus) {
    const name = units.prometheus();
    const userRules = host.prometheus.userRuleGroups.length > 0 && debianPaths.prometheusUserRules;
    result.push(unit({ name, source: "distribution", reads: onDebian(host, debianPaths.defaults(name), debianPaths.prometheusConfig, debianPaths.prometheusRules, userRules) }));
  }
  if (host.proxy) result.push(unit({ name: host.proxy.unit, source: "distribution", reads: onDebian(host, debianPaths.nginxProxy) }));
  // nixpkgs' Grafana (NixOS only): its admin password and secret key arrive as credentials.
  if (host.grafana) result.push(unit({ name: host.grafana.unit, source: "distribution", secretFiles: host.grafana.credentials.map((c) => c.path) }));
  const am = host.alertmanager;
  if (am) {
    result.push(
      unit({
        name: am.unit,
        source: "distribution",
        reads: onDebian(host, debianPaths.defaults(am.unit), debianPaths.alertmanagerConfig, am.credentials.length > 0 && debianPaths.dropIn(am.unit)),
        secretFiles: am.credentials.map((c) => c.path),
      }),
    );
  }
  return result;
}

/** The facts of a unit the model declares on the host; a renderer asking for another is a bug. */
export function unitNamed(host: Pick<HostModel, "name" | "units">, name: string): HostUnitSpec {
  const found = host.units.find((u) => u.name === name);
  if (!found) throw new Error(`host ${host.name}: the model has no unit ${name}`);
  return found;
}

export function buildHostUnits(host: Omit<HostModel, "units">): HostUnitSpec[] {
  const units = [
    ...host.stacks.flatMap((s) => stackUnits(host, s)),
    ...distributionUnits(host),
    ...host.operations.services.map((spec) => serviceUnit(host, spec)),
    ...host.operations.timers.map((t) => unit({ name: `${t.name}.timer`, source: "homefleet", reads: onDebian(host, debianPaths.unitFile(`${t.name}.timer`)) })),
  ];
  return sortByText(units, (u) => u.name);
}
