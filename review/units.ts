/**
 * The unit graph of a host, read back from the unit files homefleet renders. NixOS hosts are read
 * through the Debian rendering of the same model: the units, their dependencies and their
 * hardening come from the same specs, and only PostgreSQL's unit name differs.
 */
import { units as unitNames } from "../model/paths";
import type { HostModel } from "../model/specs";
import { renderSystemdHost } from "../render/systemd/host";
import type { RenderedFile } from "../render/types";

export interface ParsedUnit {
  readonly name: string;
  readonly file: string;
  /** Directive → values, in file order (repeated directives accumulate, space-separated lists split). */
  readonly directives: ReadonlyMap<string, readonly string[]>;
}

const LIST_DIRECTIVES = new Set(["After", "Before", "Requires", "Wants", "BindsTo", "PartOf", "Requisite", "WantedBy"]);

export function parseUnitFile(name: string, file: string, text: string): ParsedUnit {
  const directives = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const values = LIST_DIRECTIVES.has(key) ? value.split(/\s+/).filter(Boolean) : [value];
    directives.set(key, [...(directives.get(key) ?? []), ...values]);
  }
  return { name, file, directives };
}

/**
 * Unit files of a host as the Debian flavour renders them (drop-ins merged into their unit). For a
 * NixOS host the same units are rendered the Debian way, with the units nixpkgs names differently
 * (PostgreSQL) under the host's own names, so the graph shows what the host runs.
 */
export function hostUnits(host: HostModel, files?: readonly RenderedFile[]): ParsedUnit[] {
  const rendered = files && host.os === "systemd" ? files : renderSystemdHost({ ...host, os: "systemd" });
  const renamed = new Map<string, string>();
  if (host.os !== "systemd" && host.postgres) renamed.set(unitNames.postgres("systemd", host.postgres.version), unitNames.postgres(host.os, host.postgres.version));
  const rename = (name: string) => renamed.get(name) ?? name;
  const units = new Map<string, ParsedUnit>();
  for (const f of rendered) {
    const unit = f.path.match(/^\/etc\/systemd\/system\/([^/]+\.(service|timer))$/)?.[1];
    const dropIn = f.path.match(/^\/etc\/systemd\/system\/([^/]+\.(service|timer))\.d\/[^/]+\.conf$/)?.[1];
    const name = unit ?? dropIn;
    if (!name) continue;
    const text = parseUnitFile(rename(name), f.path, f.content);
    const parsed = { ...text, directives: new Map([...text.directives].map(([k, v]) => [k, LIST_DIRECTIVES.has(k) ? v.map(rename) : v])) };
    const existing = units.get(parsed.name);
    if (!existing) units.set(parsed.name, parsed);
    else {
      const merged = new Map(existing.directives);
      for (const [k, v] of parsed.directives) merged.set(k, [...(merged.get(k) ?? []), ...v]);
      units.set(parsed.name, { name: parsed.name, file: existing.file, directives: merged });
    }
  }
  return [...units.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function values(unit: ParsedUnit, directive: string): readonly string[] {
  return unit.directives.get(directive) ?? [];
}
