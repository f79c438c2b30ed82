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
import { renderSystemdHost } from "../render/systemd/host";

export function systemdAnalyzeAvailable(): boolean {
  const probe = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  return probe.status === 0;
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
    const scores = new Map<string, number>();
    for (const unit of services.sort()) {
      const run = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", `--root=${root}`, unit], { encoding: "utf8" });
      const m = run.stdout.match(/Overall exposure level for \S+: ([0-9.]+)/);
      if (m) scores.set(unit, Number(m[1]));
    }
    return scores;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Host → unit → score, for every service unit homefleet writes (NixOS hosts via the same specs). */
export function measureExposure(render: FleetRender): Map<string, Map<string, number>> {
  return new Map(render.bundles.map((b) => [b.host.name, scoreUnitFiles(b.host.os === "systemd" ? b.files : renderSystemdHost({ ...b.host, os: "systemd" }))]));
}
