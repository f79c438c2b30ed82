/**
 * The user's rule tests (homefleet:monitoring.ruleTests) run by the real promtool: `promtool check
 * rules` on the user's rule file, then `promtool test rules` on each test with the user's rules
 * loaded, and homefleet's too when the test asks about one of homefleet's alerts (homefleet's
 * rules record nothing the user's could read; evaluating its ~40 rules over a test's days of
 * series took promtool seconds for nothing). One test file per test, so a failure names the test
 * that failed. Without promtool nothing runs, and the result says so.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { RuleTestConfig } from "../config/schema";
import { PROMETHEUS_RULES_FILE, PROMETHEUS_USER_RULES_FILE } from "../model/paths";
import type { UserRuleGroupSpec } from "../model/specs";
import { alertNames, renderAlertRules } from "../render/monitoring/alertRules";
import { renderUserRules } from "../render/monitoring/userRules";

export interface RuleTestOutcome {
  /** Index in homefleet:monitoring.ruleTests. */
  readonly index: number;
  readonly name?: string;
  readonly passed: boolean;
  /** promtool's own words (its failure report), trimmed. */
  readonly output: string;
}

export interface RuleTestRun {
  /** False when promtool is not installed: nothing ran. */
  readonly available: boolean;
  /** `promtool check rules` of the user's rule file; undefined without user rules. */
  readonly check?: { readonly passed: boolean; readonly output: string };
  readonly tests: readonly RuleTestOutcome[];
}

/** promtool's output without the temporary directory's name, at most `lines` lines. */
function trimmed(text: string, dir: string, lines = 30): string {
  const all = text.split(dir + "/").join("").trim().split("\n");
  return all.length > lines ? [...all.slice(0, lines), `... (${all.length - lines} more lines)`].join("\n") : all.join("\n");
}

export function runRuleTests(groups: readonly UserRuleGroupSpec[], tests: readonly RuleTestConfig[], promtool = "promtool"): RuleTestRun {
  const dir = mkdtempSync(join(tmpdir(), "homefleet-rules-"));
  try {
    const run = (args: string[]) => spawnSync(promtool, args, { cwd: dir, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
    const probe = run(["--version"]);
    if (probe.error) return { available: false, tests: [] };
    writeFileSync(join(dir, PROMETHEUS_RULES_FILE), renderAlertRules());
    const homefleetAlerts = alertNames();
    const userFiles: string[] = [];
    let check: RuleTestRun["check"];
    if (groups.length) {
      writeFileSync(join(dir, PROMETHEUS_USER_RULES_FILE), renderUserRules(groups));
      userFiles.push(PROMETHEUS_USER_RULES_FILE);
      const r = run(["check", "rules", PROMETHEUS_USER_RULES_FILE]);
      check = { passed: r.status === 0, output: trimmed(`${r.stdout}${r.stderr}`, dir) };
    }
    const outcomes = tests.map((t, index): RuleTestOutcome => {
      const file = `test-${index}.yml`;
      // promtool's format as the config holds it; the name is homefleet's label for the report.
      const { name, ...group } = t;
      const asksHomefleet = (t.alert_rule_test ?? []).some((a) => homefleetAlerts.has(a.alertname));
      const ruleFiles = [...(asksHomefleet || !userFiles.length ? [PROMETHEUS_RULES_FILE] : []), ...userFiles];
      writeFileSync(join(dir, file), stringify({ rule_files: ruleFiles, evaluation_interval: "1m", tests: [group] }, { lineWidth: 0 }));
      const r = run(["test", "rules", file]);
      return { index, ...(name ? { name } : {}), passed: r.status === 0, output: trimmed(`${r.stdout}${r.stderr}`, dir) };
    });
    return { available: true, ...(check ? { check } : {}), tests: outcomes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
