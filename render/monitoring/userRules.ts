/**
 * The user's own alert rules (homefleet:monitoring.rules) as a Prometheus rule file, beside
 * homefleet's: their groups in config order, each rule as written. Pure: same input, same bytes.
 */
import { yamlDocumentText } from "../common/yamlBlock";
import type { UserRuleGroupSpec } from "../../model/specs";

const HEADER = `Managed by homefleet: the alert rules of homefleet:monitoring.rules. Hand edits are reported as
drift and replaced on the next deployment; change the stack config instead.`;

export function renderUserRules(groups: readonly UserRuleGroupSpec[]): string {
  const value = {
    groups: groups.map((g) => ({
      name: g.name,
      rules: g.rules.map((r) => ({
        alert: r.alert,
        expr: r.expr,
        ...(r.for ? { for: r.for } : {}),
        ...(Object.keys(r.labels).length ? { labels: r.labels } : {}),
        ...(Object.keys(r.annotations).length ? { annotations: r.annotations } : {}),
      })),
    })),
  };
  return yamlDocumentText(HEADER.split("\n"), value);
}
