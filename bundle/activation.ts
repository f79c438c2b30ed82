/**
 * What a deployment restarts and starts on a plain systemd host, from the model's unit facts:
 * each file maps to the started units that read it, so a change restarts exactly those (seed 004
 * restarted everything by hand).
 */
import type { HostModel } from "../model/specs";

/** Units a deployment enables and starts: long-running and setup units, timers, and the packaged units homefleet configures. */
export function unitsToStart(host: HostModel): string[] {
  return host.units.filter((u) => u.start).map((u) => u.name);
}

/**
 * The started units that read each path, in the order of host.units, for every path at once (a
 * host's bundle asks for each of its files; scanning every unit per file was quadratic). With the
 * default, the units reading a rendered file: a oneshot job without [Install] (a backup, a
 * renewal) is not restarted when its unit file changes, that would run it. With `u.secretFiles`,
 * the units reading a secret file at start: a changed secret restarts exactly those; host-wide
 * secrets (backups) are read by oneshot jobs at each run, so nothing restarts.
 */
export function unitsReadingIndex(host: HostModel, paths: (unit: HostModel["units"][number]) => readonly string[] = (u) => u.reads): (path: string) => string[] {
  const readers = new Map<string, string[]>();
  for (const unit of host.units) {
    if (!unit.start) continue;
    for (const path of new Set(paths(unit))) {
      const names = readers.get(path);
      if (names) names.push(unit.name);
      else readers.set(path, [unit.name]);
    }
  }
  return (path) => [...(readers.get(path) ?? [])];
}
