/**
 * A finding of homefleet's review: what a reviewer like seeds 000 and 001 would write, with the
 * config path to change, why it matters and how to fix it.
 */

export type Severity = "error" | "warning" | "info";

export type CheckId =
  | "timer-collision"
  | "timer-order"
  | "timer-renewal-stagger"
  | "timer-calendar"
  | "timer-persistent"
  | "unit-cycle"
  | "requires-without-after"
  | "bind-before-device"
  | "secret-before-filesystem"
  | "port-clash"
  | "internal-public"
  | "published-not-loopback"
  | "backup-coverage"
  | "volume-live-database"
  | "monitoring-coverage"
  | "certificate-coverage"
  | "trust-authentication"
  | "host-network"
  | "exposure"
  | "secret-insecure"
  | "resource-limits"
  | "litellm-fallback"
  | "litellm-timeouts"
  | "monitoring-unreachable"
  | "alert-delivery"
  | "proxy-certificate"
  | "proxy-upstream"
  | "rule-test"
  | "litellm-metrics";

export interface Finding {
  readonly check: CheckId;
  readonly severity: Severity;
  /** The host the finding is about. */
  readonly host?: string;
  /** Full config path to change, e.g. `homefleet:stacks.litellm.network.mode`. */
  readonly path: string;
  readonly message: string;
  readonly why: string;
  readonly fix: string;
  /** Set when the config accepts this finding explicitly (`homefleet:review.accept`). */
  readonly acceptedBecause?: string;
}

export const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || a.check.localeCompare(b.check) || a.path.localeCompare(b.path) || a.message.localeCompare(b.message));
}
