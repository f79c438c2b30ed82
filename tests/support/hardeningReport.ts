import { renderedFleets } from "./fleets";
import { exposureScores } from "./validators";

/** Podman needs mounts, namespaces and setuid helpers; the container is its isolation boundary. */
export const EXEMPT = /^podman-/;
export const THRESHOLD = 2.0;

export interface UnitScore {
  readonly fleet: string;
  readonly host: string;
  readonly unit: string;
  readonly score: number;
}

export function measureScores(): UnitScore[] {
  const out: UnitScore[] = [];
  for (const [fleet, render] of Object.entries(renderedFleets())) {
    for (const bundle of render.bundles.filter((b) => b.host.os === "systemd")) {
      // Scheduled jobs are named by their config: one row stands for all of them.
      const jobs = new Set(bundle.host.operations.timers.filter((t) => t.configPath?.includes(".jobs.")).map((t) => `${t.name}.service`));
      for (const [unit, score] of exposureScores(bundle.files)) out.push({ fleet, host: bundle.host.name, unit: jobs.has(unit) ? "<job>.service" : unit, score });
    }
  }
  return out;
}

/** Unit names without the stack or host part, so one row stands for every instance. */
function kindOf(unit: string): string {
  return unit
    .replace(/^(homefleet-(network|postgresql|backup-redis|backup-repository|check-repository|redis-exporter|cert)|podman|redis)-.+\.service$/, "$1-<name>.service")
    .replace(/^homefleet-cert-check-<name>/, "homefleet-cert-check");
}

export function hardeningReport(scores: UnitScore[] = measureScores()): string {
  const byKind = new Map<string, number>();
  for (const s of scores) {
    const kind = s.unit === "homefleet-cert-check.service" ? s.unit : kindOf(s.unit);
    byKind.set(kind, Math.max(byKind.get(kind) ?? 0, s.score));
  }
  const rows = [...byKind.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  return [
    "# Hardening",
    "",
    "Every unit homefleet writes carries one hardening preset (`model/hardening.ts`), relaxed per",
    "profile only where the unit's job needs it, each relaxation commented there. The same spec",
    "renders the NixOS `serviceConfig`, so the scores hold for both flavours.",
    "",
    `Scores are \`systemd-analyze security --offline=true\` (systemd 252, Debian bookworm) of the`,
    "rendered unit files: 0 is fully locked down, 10 is fully exposed. The best-hardened nixpkgs",
    `services reach 1.1-1.2. Every unit except those that run podman must score ${THRESHOLD.toFixed(1)} or less;`,
    "`tests/hardening.test.ts` asserts it and that this file is current (`npm run hardening-report`).",
    "",
    "| unit | worst exposure | limit |",
    "|---|---:|---|",
    ...rows.map(([unit, score]) => `| \`${unit}\` | ${score.toFixed(1)} | ${EXEMPT.test(unit) ? "exempt: runs podman" : `≤ ${THRESHOLD.toFixed(1)}`} |`),
    "",
    "`<job>.service` is the worst of the scheduled jobs in `tests/fixtures/operations.yaml` (an",
    "fstrim with CAP_SYS_ADMIN, a find as a service user): a job's score depends on what its config",
    "gives it (network, capabilities, devices), and the review reports any job above the limit.",
    "",
    "Not ours to score: the packaged units homefleet only configures (Debian's",
    "`postgresql@.service`, `prometheus-*-exporter.service`, `prometheus.service`; nixpkgs'",
    "`postgresql.service`, `redis-<name>.service`, exporter modules).",
    "",
  ].join("\n");
}
