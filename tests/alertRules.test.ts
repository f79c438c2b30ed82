/**
 * The Prometheus alert rules, judged by the real promtool (Debian package `prometheus`):
 * `promtool check rules` (with every lint, fatal) on the rendered file, and `promtool test rules`
 * with the unit tests in tests/promtool/. Every alert must have a test case where it fires (exact
 * labels and annotations) and one where it stays quiet, derived from the rendered file, so an
 * alert added without tests fails here. A missing promtool fails; it is never skipped.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ALERT_RULE_DEFAULTS, renderAlertRules, type AlertRulesInput } from "../render/monitoring/alertRules";
import { run, type ToolResult } from "./support/validators";

const PROMTOOL_DIR = join(__dirname, "promtool");
const RULE_FILE = "alert-rules.yaml";
const TEST_FILES = readdirSync(PROMTOOL_DIR)
  .filter((f) => f.endsWith(".test.yaml"))
  .sort();

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface AlertRuleTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
interface UnitTestFile {
  rule_files: string[];
  tests: { alert_rule_test?: AlertRuleTest[] }[];
}

function rulesOf(text: string): Rule[] {
  const doc = parse(text) as { groups: { name: string; rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

let dir: string;

/** Writes the rule file (and the unit tests) into a fresh directory: promtool resolves rule_files from there. */
function stage(rules: string): string {
  rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(join(tmpdir(), "hf-promtool-"));
  writeFileSync(join(dir, RULE_FILE), rules);
  for (const f of TEST_FILES) copyFileSync(join(PROMTOOL_DIR, f), join(dir, f));
  return dir;
}

function checkRules(rules: string): ToolResult {
  stage(rules);
  return run("promtool", ["check", "rules", "--lint=all", "--lint-fatal", join(dir, RULE_FILE)]);
}

function testRules(rules: string, files: readonly string[] = TEST_FILES): ToolResult {
  stage(rules);
  return run("promtool", ["test", "rules", ...files.map((f) => join(dir, f))]);
}

const rendered = renderAlertRules();
const rules = rulesOf(rendered);
const alertNames = rules.map((r) => r.alert);
const unitTests = TEST_FILES.map((f) => ({ file: f, doc: parse(readFileSync(join(PROMTOOL_DIR, f), "utf8")) as UnitTestFile }));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hf-promtool-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("rendered rule file", () => {
  it("is deterministic and defaults every threshold", () => {
    expect(renderAlertRules()).toBe(rendered);
    expect(renderAlertRules({ ...ALERT_RULE_DEFAULTS })).toBe(rendered);
  });

  it("has unique alert names, a severity, a summary and a description on every alert", () => {
    expect(new Set(alertNames).size).toBe(alertNames.length);
    for (const r of rules) {
      expect({ alert: r.alert, keys: Object.keys(r.annotations).sort() }).toEqual({ alert: r.alert, keys: ["description", "summary"] });
      expect(Object.keys(r.labels)).toEqual(["severity"]);
      if (r.alert === "Watchdog") {
        expect({ expr: r.expr, severity: r.labels.severity, for: r.for }).toEqual({ expr: "vector(1)", severity: "none", for: undefined });
      } else {
        expect({ alert: r.alert, severity: ["critical", "warning"].includes(r.labels.severity), for: /^\d+[mh]$/.test(r.for ?? "") }).toEqual({ alert: r.alert, severity: true, for: true });
      }
    }
  });

  it("covers every failure mode of the brief", () => {
    expect([...alertNames].sort()).toEqual(
      [
        "BackupCheckStale",
        "BackupFailed",
        "BackupMetricsAbsent",
        "BackupNeverSucceeded",
        "BackupStale",
        "CertificateExpiringCritical",
        "CertificateExpiringSoon",
        "CertificateRenewalFailed",
        "ContainerRestartLoop",
        "DiskSpaceLow",
        "HealthEndpointFailing",
        "HomefleetUnitFailed",
        "HomefleetUnitInactive",
        "LiteLLMHighLatency",
        "MemoryLow",
        "NodeTextfileScrapeError",
        "PostgreSQLDown",
        "PostgreSQLTooManyConnections",
        "RedisDown",
        "RedisMemoryHigh",
        "SystemdUnitFailed",
        "TargetDown",
        "Watchdog",
      ].sort(),
    );
  });

  it("puts the thresholds of its input into the expressions and descriptions", () => {
    const custom = rulesOf(
      renderAlertRules({
        backupMaxAgeHours: 50,
        certificateWarnDays: 21,
        certificateCriticalDays: 7,
        diskFreePercent: 15,
        memoryAvailablePercent: 5,
        restartLoopCount: 6,
        redisMemoryPercent: 95,
        postgresConnectionsPercent: 70,
        litellmLatencySeconds: 2.5,
        backupsExpected: false,
      }),
    );
    const byName = Object.fromEntries(custom.map((r) => [r.alert, r]));
    expect(byName.BackupStale.expr).toMatch(/> 50 \* 3600$/);
    expect(byName.CertificateExpiringSoon.expr).toMatch(/< 21 \* 86400$/);
    expect(byName.CertificateExpiringCritical.expr).toMatch(/< 7 \* 86400$/);
    expect(byName.DiskSpaceLow.expr).toMatch(/< 15$/);
    expect(byName.MemoryLow.expr).toMatch(/< 5$/);
    expect(byName.ContainerRestartLoop.expr).toMatch(/\[15m\]\) > 6$/);
    expect(byName.RedisMemoryHigh.expr).toMatch(/> 95$/);
    expect(byName.PostgreSQLTooManyConnections.expr).toMatch(/> 70$/);
    expect(byName.LiteLLMHighLatency.expr).toContain("> 2.5 and");
    expect(byName.LiteLLMHighLatency.annotations.description).toContain("more than 2.5s");
    expect(byName.BackupMetricsAbsent).toBeUndefined();
  });

  it("refuses unknown options and out-of-range thresholds", () => {
    expect(() => renderAlertRules({ diskFreePercentage: 5 } as AlertRulesInput)).toThrow('unknown option "diskFreePercentage"');
    expect(() => renderAlertRules({ diskFreePercent: 100 })).toThrow("diskFreePercent: expected a number > 0 and < 100, got 100");
    expect(() => renderAlertRules({ restartLoopCount: 2.5 })).toThrow("restartLoopCount: expected an integer >= 1, got 2.5");
    expect(() => renderAlertRules({ litellmLatencySeconds: Number.NaN })).toThrow("litellmLatencySeconds: expected a number > 0");
    expect(() => renderAlertRules({ certificateCriticalDays: 14 })).toThrow("certificateCriticalDays (14) must be less than certificateWarnDays (14)");
  });
});

describe("promtool check rules", () => {
  it("accepts the rendered file with every lint enabled and prints nothing but success", () => {
    const result = checkRules(rendered);
    expect(result).toEqual({
      status: 0,
      stdout: `Checking ${join(dir, RULE_FILE)}\n  SUCCESS: ${rules.length} rules found\n\n`,
      stderr: "",
    });
  });

  it("accepts the file rendered with other thresholds", () => {
    const result = checkRules(renderAlertRules({ litellmLatencySeconds: 0.75, backupMaxAgeHours: 49.5, backupsExpected: false }));
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
  });

  it("rejects a rule with a typo in its expression (the check can fail)", () => {
    const typo = rendered.replace("increase(node_systemd_service_restart_total", "increse(node_systemd_service_restart_total");
    expect(typo).not.toBe(rendered);
    const result = checkRules(typo);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/unknown function with name "increse"/);

    const unbalanced = rendered.replace("pg_up == 0", "(pg_up == 0");
    const result2 = checkRules(unbalanced);
    expect(result2.status).not.toBe(0);
    expect(result2.stdout + result2.stderr).toMatch(/FAILED/);
  });
});

describe("promtool test rules", () => {
  const cases = unitTests.flatMap(({ file, doc }) =>
    doc.tests.flatMap((t, group) =>
      (t.alert_rule_test ?? []).map((c) => ({ file, group: `${file}#${group}`, alert: c.alertname, fires: (c.exp_alerts ?? []).length > 0 })),
    ),
  );

  it("every unit test file tests the rendered rule file", () => {
    expect(TEST_FILES.length).toBeGreaterThan(0);
    for (const { file, doc } of unitTests) expect({ file, rule_files: doc.rule_files }).toEqual({ file, rule_files: [RULE_FILE] });
  });

  it("has, for every alert, a case where it fires and a quiet case next to it", () => {
    // A quiet case alone passes vacuously when its series are misspelt, so each alert needs a
    // test group in which it both fires and stays quiet: the same series prove both.
    const paired = new Set(
      alertNames.filter((a) => {
        const groups = new Set(cases.filter((c) => c.alert === a && c.fires).map((c) => c.group));
        return cases.some((c) => c.alert === a && !c.fires && groups.has(c.group));
      }),
    );
    const firing = new Set(cases.filter((c) => c.fires).map((c) => c.alert));
    // The Watchdog (severity none) fires by design whatever the data: it has no quiet case.
    const alwaysFiring = new Set(rules.filter((r) => r.labels.severity === "none").map((r) => r.alert));
    expect([...alwaysFiring]).toEqual(["Watchdog"]);
    const missing = alertNames.filter((a) => !firing.has(a) || (!alwaysFiring.has(a) && !paired.has(a)));
    expect(missing).toEqual([]);
    // And no test names an alert that does not exist (an exp_alerts: [] case for it would pass).
    expect([...new Set(cases.map((c) => c.alert))].filter((a) => !alertNames.includes(a))).toEqual([]);
    expect(cases.filter((c) => c.fires).length).toBeGreaterThanOrEqual(alertNames.length);
    expect(cases.filter((c) => !c.fires).length).toBeGreaterThanOrEqual(alertNames.length - alwaysFiring.size);
  });

  it("passes every unit test against the rendered rules", () => {
    const result = testRules(rendered);
    const summary = `${cases.length} cases (${cases.filter((c) => c.fires).length} firing, ${cases.filter((c) => !c.fires).length} quiet) for ${alertNames.length} alerts`;
    expect({ summary, status: result.status, stderr: result.stderr }).toEqual({ summary, status: 0, stderr: "" });
    expect(result.stdout.match(/ SUCCESS\n/g)?.length).toBe(TEST_FILES.length);
  });

  it("fails when a threshold no longer matches the tests (the unit tests can fail)", () => {
    const result = testRules(renderAlertRules({ restartLoopCount: 20 }), ["units.test.yaml"]);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/FAILED:[\s\S]*alertname: ContainerRestartLoop, time: 30m/);
  });
});
