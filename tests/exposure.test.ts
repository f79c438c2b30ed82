/**
 * The review scores all service units of a host in one `systemd-analyze security` run. The scores
 * must be the ones a run per unit gives, for real rendered units and around a unit systemd refuses.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { loadStackFile } from "../config/load";
import type { RenderedFile } from "../render/types";
import { analyzeSecurity, scoreUnitFiles, systemdAnalyzeAvailable } from "../review/exposure";

const ROOT = join(__dirname, "..");
const SERVICE = /^\/etc\/systemd\/system\/([^/]+\.service)$/;

/** Host → its service unit files, for both committed stacks' hosts, each host made a Debian host. */
function renderedServices(): Map<string, RenderedFile[]> {
  return new Map(
    ["staging", "prod"].flatMap((stack) => {
      const config = loadStackFile(join(ROOT, `Pulumi.${stack}.yaml`));
      const asDebian = { ...config, hosts: Object.fromEntries(Object.entries(config.hosts).map(([name, h]) => [name, { ...h, os: "systemd" as const }])) };
      return renderFleet(asDebian).bundles.map((b): [string, RenderedFile[]] => [b.host.name, b.files.filter((f) => SERVICE.test(f.path))]);
    }),
  );
}

/** The files under a fresh root, as the review lays them out; the unit names, sorted. */
function stage(files: readonly RenderedFile[]): { root: string; units: string[] } {
  const root = mkdtempSync(join(tmpdir(), "hf-exposure-test-"));
  for (const f of files) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.content);
  }
  return { root, units: files.map((f) => f.path.match(SERVICE)![1]).sort() };
}

function oneAtATime(root: string, units: readonly string[]): Map<string, number> {
  const scores = new Map<string, number>();
  for (const unit of units) {
    const score = analyzeSecurity(root, [unit]).get(unit);
    if (score !== undefined) scores.set(unit, score);
  }
  return scores;
}

const withAnalyze = systemdAnalyzeAvailable() ? it : it.skip;

describe("exposure scores from one systemd-analyze run per host", () => {
  withAnalyze("equal one run per unit for every service unit of the committed stacks (skipped where systemd-analyze is not installed)", () => {
    const hosts = renderedServices();
    expect(hosts.size).toBe(4);
    for (const [host, files] of hosts) {
      const { root, units } = stage(files);
      try {
        const single = oneAtATime(root, units);
        expect({ host, scored: single.size }).toEqual({ host, scored: units.length });
        expect({ host, scores: analyzeSecurity(root, units) }).toEqual({ host, scores: single });
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
  });

  withAnalyze("leave out a unit systemd refuses, as one run per unit does, and still score the units after it (skipped where systemd-analyze is not installed)", () => {
    const broken: RenderedFile = { path: "/etc/systemd/system/aaa-broken.service", mode: "0644", content: "[Service]\nExecStart=relative/path\n" };
    const files = [broken, ...[...renderedServices().values()][0].slice(0, 4)];
    const { root, units } = stage(files);
    let single: Map<string, number>;
    try {
      single = oneAtATime(root, units);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    expect([...single.keys()]).toEqual(units.filter((u) => u !== "aaa-broken.service"));
    expect(scoreUnitFiles(files)).toEqual(single);
  });
});
