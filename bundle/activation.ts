/**
 * What a deployment restarts and starts on a plain systemd host: each file maps to the units
 * that read it, so a change restarts exactly those (seed 004 restarted everything by hand).
 */
import type { HostModel } from "../model/specs";
import { secretPaths, units } from "../model/paths";
import type { RenderedFile } from "../render/types";

const PACKAGED_BY_DEFAULTS: Record<string, string> = {
  "/etc/default/prometheus-node-exporter": "prometheus-node-exporter.service",
  "/etc/default/prometheus-postgres-exporter": "prometheus-postgres-exporter.service",
  "/etc/default/prometheus-blackbox-exporter": "prometheus-blackbox-exporter.service",
  "/etc/default/prometheus": "prometheus.service",
  "/etc/prometheus/blackbox.yml": "prometheus-blackbox-exporter.service",
  "/etc/prometheus/prometheus.yml": "prometheus.service",
  "/etc/prometheus/homefleet-rules.yml": "prometheus.service",
  "/etc/default/prometheus-alertmanager": "prometheus-alertmanager.service",
  "/etc/prometheus/alertmanager.yml": "prometheus-alertmanager.service",
};

/** Units with an [Install] section (long-running or setup), timers, and the packaged units homefleet configures. */
export function unitsToStart(host: HostModel, files: readonly RenderedFile[]): string[] {
  const start = new Set<string>();
  for (const f of files) {
    const unit = f.path.match(/^\/etc\/systemd\/system\/([^/]+\.(service|timer))$/)?.[1];
    if (unit && /^\[Install\]$/m.test(f.content)) start.add(unit);
    const packaged = PACKAGED_BY_DEFAULTS[f.path];
    if (packaged) start.add(packaged);
  }
  if (host.postgres) start.add(units.postgres("systemd", host.postgres.version));
  return [...start].sort();
}

export function unitsReading(host: HostModel, file: RenderedFile, startable: ReadonlySet<string>): string[] {
  const p = file.path;
  const own = p.match(/^\/etc\/systemd\/system\/([^/]+\.(service|timer))$/)?.[1];
  // A oneshot job without [Install] (backups, renewals) is not restarted: that would run it.
  if (own) return startable.has(own) ? [own] : [];
  const dropIn = p.match(/^\/etc\/systemd\/system\/([^/]+\.service)\.d\/[^/]+$/)?.[1];
  if (dropIn) return [dropIn];
  if (PACKAGED_BY_DEFAULTS[p]) return [PACKAGED_BY_DEFAULTS[p]];
  if (host.postgres && p.startsWith(`/etc/postgresql/${host.postgres.version}/main/`)) return [units.postgres("systemd", host.postgres.version)];
  for (const s of host.stacks) {
    if (p === `/etc/homefleet/${s.name}/redis.conf`) return [units.cache(s.name)];
    if (p === s.litellmConfig?.path) return [units.container(s.name)];
    if (s.network.mode === "bridge" && p === `/etc/containers/networks/${s.network.name}.json`) return [units.container(s.name)];
  }
  return [];
}

/**
 * The units a changed secret restarts: every unit of the stack the secret belongs to (its
 * container, database role, cache and exporters read their secrets at start). Host-wide secrets
 * (backups) are read by oneshot jobs at each run: nothing restarts.
 */
export function unitsReadingSecret(host: HostModel, path: string, start: readonly string[]): string[] {
  const stack = host.stacks.find((s) => path.startsWith(`${secretPaths.dir(s.name)}/`));
  return stack ? start.filter((u) => u.endsWith(`-${stack.name}.service`)) : [];
}
