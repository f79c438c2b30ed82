/**
 * Every unit homefleet writes, scored by systemd itself.
 */
import { readFileSync } from "node:fs";
import { EXEMPT, hardeningReport, measureScores, THRESHOLD } from "./support/hardeningReport";

const scores = measureScores();

it("scores a unit of every kind homefleet writes", () => {
  const units = scores.map((s) => s.unit);
  for (const prefix of ["homefleet-network-", "homefleet-postgresql-", "redis-", "homefleet-backup-postgresql", "homefleet-backup-redis-", "homefleet-backup-config", "homefleet-backup-offsite", "homefleet-backup-repository-", "homefleet-check-repository-", "homefleet-cert-", "homefleet-redis-exporter-", "podman-", "<job>.service"]) {
    expect(units.some((u) => u.startsWith(prefix))).toBe(true);
  }
});

it(`keeps every unit that does not run podman at an exposure of ${THRESHOLD} or less`, () => {
  const over = scores.filter((s) => !EXEMPT.test(s.unit) && s.score > THRESHOLD);
  expect(over).toEqual([]);
});

it("has docs/hardening.md in step with the measured scores", () => {
  expect(readFileSync(`${__dirname}/../docs/hardening.md`, "utf8")).toBe(hardeningReport(scores));
});
