/**
 * The user's own alert rules (homefleet:monitoring.rules) as a Prometheus rule file, beside
 * homefleet's: their groups in config order, each rule as written. Pure: same input, same bytes.
 */
import { Document } from "yaml";
import { commentBefore, yamlBlockWithComment } from "../common/yamlBlock";
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
  const comment = HEADER.split("\n");
  // The shortcut writes what yaml's Document writes, or nothing (render/common/yamlBlock.ts).
  const fast = yamlBlockWithComment(comment, value);
  if (fast !== undefined) return fast;
  const doc = new Document(value);
  doc.commentBefore = commentBefore(comment);
  return doc.toString({ lineWidth: 0, indent: 2 });
}
