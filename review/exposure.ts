/**
 * Exposure scores from `systemd-analyze security --offline=true`, when the machine running the
 * review has systemd-analyze. It scores unit files without loading them into a running systemd.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { FleetRender } from "../bundle/hostBundle";
import type { RenderedFile } from "../render/types";

export function systemdAnalyzeAvailable(): boolean {
  const probe = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  return probe.status === 0;
}

const OVERALL = /Overall exposure level for (\S+): ([0-9.]+)/g;

/**
 * One `systemd-analyze security` run over `units` under `root`: unit → score for each unit it
 * printed an overall score for. Each unit's table ends in its own "Overall exposure level for
 * <unit>" line, so the units are told apart by name. (`--json` is no help: systemd 252's JSON
 * lists the checks but not the overall score.)
 */
export function analyzeSecurity(root: string, units: readonly string[]): Map<string, number> {
  const scores = new Map<string, number>();
  if (units.length === 0) return scores;
  // About 14 KiB of table per unit: a hundred units are past spawnSync's default 1 MiB of output.
  const run = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", `--root=${root}`, ...units], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  const wanted = new Set(units);
  for (const m of (run.stdout ?? "").matchAll(OVERALL)) {
    if (wanted.has(m[1])) scores.set(m[1], Number(m[2]));
  }
  return scores;
}

/** unit → score for the service units among the given files (a unit systemd cannot score is left out). */
export function scoreUnitFiles(files: readonly RenderedFile[]): Map<string, number> {
  const root = mkdtempSync(join(tmpdir(), "homefleet-exposure-"));
  try {
    const services: string[] = [];
    for (const f of files) {
      const unit = f.path.match(/^\/etc\/systemd\/system\/([^/]+\.service)$/)?.[1];
      if (!unit) continue;
      mkdirSync(dirname(join(root, f.path)), { recursive: true });
      writeFileSync(join(root, f.path), f.content);
      services.push(unit);
    }
    services.sort();
    // All units in one run: a run per unit cost about as much as the scoring itself, a hundred
    // times over. A unit the batch printed no score for (say the run stopped at a unit it could
    // not load) gets a run of its own, so the result is what one run per unit gives.
    const batch = analyzeSecurity(root, services);
    const scores = new Map<string, number>();
    for (const unit of services) {
      const score = batch.get(unit) ?? analyzeSecurity(root, [unit]).get(unit);
      if (score !== undefined) scores.set(unit, score);
    }
    return scores;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Host → unit → score, for every service unit homefleet writes on a Debian host. A NixOS host is
 * not scored: nixpkgs builds its units from the modules homefleet writes, and scoring homefleet's
 * Debian rendering instead would score files that host never runs.
 */
export function measureExposure(render: FleetRender): Map<string, Map<string, number>> {
  return new Map(render.bundles.filter((b) => b.host.os === "systemd").map((b) => [b.host.name, scoreUnitFiles(b.files)]));
}
