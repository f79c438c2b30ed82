/**
 * `reviewFleet`: run every check, apply the config's accepted findings, and say whether the
 * change may go ahead (no error left unaccepted).
 */
import { alertNames } from "../render/monitoring/alertRules";
import { runChecks, type ReviewInput } from "./checks";
import { sortFindings, type Finding } from "./findings";

export interface Review {
  readonly findings: readonly Finding[];
  /** Errors not accepted in config: any of these stops a preview. */
  readonly blocking: readonly Finding[];
  /** Accept entries that matched no finding: stale, and worth removing. */
  readonly unusedAccepts: readonly { check: string; path: string }[];
}

export function reviewFleet(input: ReviewInput): Review {
  const accepts = input.config.review?.accept ?? [];
  const used = new Set<number>();
  // The user's own alerts count as much as homefleet's wherever coverage asks for an alert by name.
  const userAlerts = input.render.model.hosts.flatMap((h) => h.prometheus?.userRuleGroups.flatMap((g) => g.rules.map((r) => r.alert)) ?? []);
  const alerts = userAlerts.length ? new Set([...alertNames(), ...userAlerts]) : alertNames();
  const findings = sortFindings(runChecks(input, alerts)).map((f) => {
    const i = accepts.findIndex((a) => a.check === f.check && a.path === f.path);
    if (i < 0) return f;
    used.add(i);
    return { ...f, acceptedBecause: accepts[i].reason };
  });
  return {
    findings,
    blocking: findings.filter((f) => f.severity === "error" && !f.acceptedBecause),
    unusedAccepts: accepts.filter((_, i) => !used.has(i)).map((a) => ({ check: a.check, path: a.path })),
  };
}

export function describeFinding(f: Finding): string {
  const accepted = f.acceptedBecause ? ` (accepted: ${f.acceptedBecause})` : "";
  return `[${f.severity}] ${f.check} ${f.path}: ${f.message}${accepted}. Why: ${f.why} Fix: ${f.fix}`;
}
