/**
 * A native stack on NixOS: the nixpkgs module's options (`services.<module>`, homefleet's values
 * with the config's merged over them) and, on each of its service units, homefleet's ordering,
 * mounts, credentials and limits as `systemd.services.<unit>` settings, which the module system
 * merges with the module's own definition of the unit.
 */
import { nativeServiceUnits, unitNamed } from "../../model/hostUnits";
import { serviceName } from "../../model/paths";
import type { HostModel, NativeServiceSpec } from "../../model/specs";
import { NixExpr, type NixValue } from "../nix/writer";

/** JSON option values as Nix values (the config allows JSON only). */
function nixValueOf(value: unknown): NixValue {
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map(nixValueOf);
  const result: Record<string, NixValue> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) result[k] = nixValueOf(v);
  return result;
}

/** `ps: [ ps.a ps.b ]`: a function of a package set, as options such as Home Assistant's extraPackages take. */
function packageFunction(names: readonly string[]): NixExpr {
  return NixExpr.lambda("ps", names.map((n) => NixExpr.ref(`ps.${n}`)));
}

/** The value under the module's option path (`services.grafana` → the attribute set at `grafana`). */
export function nativeModuleOptions(native: NativeServiceSpec): Record<string, NixValue> {
  const options = nixValueOf(native.options) as Record<string, NixValue>;
  for (const [option, names] of Object.entries(native.packageFunctions)) options[option] = packageFunction(names);
  return options;
}

/** `systemd.services` entries of the service's units: only what homefleet adds. */
export function nativeUnitSettings(host: HostModel, native: NativeServiceSpec): Record<string, NixValue> {
  const services: Record<string, NixValue> = {};
  const units = nativeServiceUnits(native);
  for (const name of units) {
    const facts = unitNamed(host, name);
    const serviceConfig: Record<string, NixValue | undefined> = {
      // The credential reaches the first service unit only (e.g. Grafana's password file).
      LoadCredential: name === units[0] && native.credentials.length ? native.credentials.map((c) => `${c.name}:${c.path}`) : undefined,
      MemoryMax: facts.memoryMax,
      CPUQuota: facts.cpuQuota,
    };
    const entry: Record<string, NixValue | undefined> = {
      after: facts.after.length ? [...facts.after] : undefined,
      wants: facts.wants.length ? [...facts.wants] : undefined,
      unitConfig: native.requiresMountsFor.length ? { RequiresMountsFor: [...native.requiresMountsFor] } : undefined,
      serviceConfig: Object.values(serviceConfig).some((v) => v !== undefined) ? serviceConfig : undefined,
    };
    if (Object.values(entry).some((v) => v !== undefined)) services[serviceName(name)] = entry;
  }
  return services;
}
