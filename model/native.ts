/**
 * A native stack's model: the catalogue entry (model/nativeCatalogue.ts) on the host's flavour,
 * with the stack's database, cache, mounts, limits and health applied to its units.
 */
import type { HostConfig, StackConfig } from "../config/schema";
import { NATIVE_CATALOGUE, optionAt } from "./nativeCatalogue";
import { units } from "./paths";
import type { HealthCheckSpec, HostModel, ListenerSpec, NativeServiceSpec, NetworkSpec, ServiceUnitSpec, StackModel } from "./specs";
import { databaseRoleUnit, stackStores } from "./stores";

/**
 * A stack whose service is the distribution's (model/nativeCatalogue.ts): its units are ordered
 * after the stack's database role and cache and after the mounts its data needs, receive the
 * database password as a credential, and are checked, probed and backed up like a container.
 */
export function buildNativeStack(name: string, stack: StackConfig, host: HostConfig, os: HostModel["os"], pgVersion: number): StackModel {
  const config = stack.native!;
  const entry = NATIVE_CATALOGUE[config.service];
  const flavour = os === "nixos" ? entry.nixos : entry.debian!;
  const network: NetworkSpec = { mode: "none", name: "" };
  const access = entry.database;
  const stores = stackStores(name, stack, os, network, access?.via === "peer" ? entry.nixos.user : undefined, access?.via === "peer");
  const { database, cache } = stores;
  const unit = flavour.units[0].name;
  const port = config.port ?? entry.port?.number;
  const addressOption = os === "nixos" ? (entry.nixos.addressOption ?? entry.nixos.listenOption) : undefined;
  const address = addressOption ? (config.address ?? "127.0.0.1") : flavour.defaultAddress;
  const listen = port !== undefined ? { address, port, protocol: entry.port!.protocol } : undefined;
  const healthPath = config.healthCheck?.path ?? entry.healthPath;
  const probeAddress = address === "0.0.0.0" ? "127.0.0.1" : address;
  const health = listen && healthPath && listen.protocol === "tcp"
    ? { url: `http://${probeAddress}:${listen.port}${healthPath}`, timeoutSec: config.healthCheck?.timeoutSec ?? 180, intervalSec: config.healthCheck?.intervalSec ?? 5 }
    : undefined;
  // The credential reaches the first service unit (a timer-driven service's own, not its timer).
  const passwordCredential = `/run/credentials/${flavour.units.find((u) => u.name.endsWith(".service"))!.name}/database-password`;
  // The stack's secrets reach the service as credentials of its unit, readable by its own user only.
  const credentials = [
    ...(database && access?.via === "password" ? [{ name: "database-password", path: database.passwordFile }] : []),
    ...(cache ? [{ name: "cache-password", path: cache.passwordFile }] : []),
  ];

  // NixOS: homefleet's values first, the config's options merged over them.
  const own: Record<string, unknown> = { enable: true };
  const setAt = (target: Record<string, unknown>, path: readonly string[], value: unknown) => {
    let node = target;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]] = value;
  };
  if (os === "nixos") {
    if (entry.nixos.portOption && port !== undefined) setAt(own, entry.nixos.portOption, port);
    if (entry.nixos.addressOption) setAt(own, entry.nixos.addressOption, address);
    if (entry.nixos.listenOption && port !== undefined) setAt(own, entry.nixos.listenOption, `${address}:${port}`);
    if (database && access) mergeInto(own, access.options({ name: database.name, user: database.user, port: host.postgresql.port, passwordCredential }));
  }
  const options = os === "nixos" ? mergeInto(own, config.options) : {};

  const dataDirs = config.backup ? [...new Set([...flavour.dataDirs, ...config.dataDirs])].sort() : [];
  const after = [...stores.wants];
  const healthChecks: HealthCheckSpec[] = [];
  const listeners: ListenerSpec[] = listen ? [{ ...listen, owner: unit }] : [];
  if (cache) {
    healthChecks.push({ kind: "redis", unit: units.cache(name), host: "127.0.0.1", port: cache.port, timeoutSec: 60, passwordFile: cache.passwordFile });
    for (const a of cache.bind) listeners.push({ address: a, port: cache.port, protocol: "tcp", owner: units.cache(name) });
  }
  if (database) healthChecks.push({ kind: "postgres", unit: units.postgres(os, pgVersion), host: "127.0.0.1", port: host.postgresql.port, timeoutSec: 60 });
  healthChecks.push(health ? { kind: "http", unit, url: health.url, timeoutSec: health.timeoutSec, intervalSec: health.intervalSec } : { kind: "unit", unit, timeoutSec: config.healthCheck?.timeoutSec ?? 180 });
  const native: NativeServiceSpec = {
    service: config.service,
    title: entry.title,
    unit,
    // A unit the config's options turn off (samba's nmbd.enable = false) is not the host's.
    units: flavour.units.filter((u) => !(os === "nixos" && u.enabledBy && optionAt(config.options, u.enabledBy) === false)).map((u) => ({ name: u.name, start: u.start })),
    ...(os === "nixos" ? { module: entry.nixos.module } : { package: entry.debian!.package }),
    options,
    packageFunctions: os === "nixos" && database && access?.via === "peer" ? { ...(access.packageFunctions ?? {}) } : {},
    ...(listen ? { listen } : {}),
    ...(health ? { health } : {}),
    dataDirs,
    requiresMountsFor: [...new Set([...config.mounts, ...config.dataDirs])].sort(),
    after,
    wants: [...after],
    credentials,
    ...(config.memoryMax ? { memoryMax: config.memoryMax } : {}),
    ...(config.cpuQuota ? { cpuQuota: config.cpuQuota } : {}),
  };
  const setupUnits: ServiceUnitSpec[] = database ? [databaseRoleUnit(name, database, units.postgres(os, pgVersion), host.postgresql.port)] : [];
  return {
    name,
    host: stack.host,
    kind: "container",
    network,
    native,
    database,
    cache,
    secretFiles: stores.secretFiles,
    generatedSecrets: stores.generated,
    setupUnits,
    configSecrets: [],
    healthChecks,
    listeners,
    warnings: [],
  };
}

/** Deep merge of JSON objects: `over`'s values win, objects merge key by key, lists are replaced. */
function mergeInto(base: Record<string, unknown>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  for (const [key, value] of Object.entries(over)) {
    const current = base[key];
    const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
    base[key] = isObject(current) && isObject(value) ? mergeInto({ ...current }, value) : value;
  }
  return base;
}
