/**
 * Prometheus alerting rules for a homefleet fleet (issue 3, "alert rules").
 *
 * The rules match on metric names and labels only, so one file serves every fleet: no host or
 * stack list is baked in. Layout follows kube-prometheus: named groups; every alert has `expr`,
 * `for`, `labels.severity` (`critical` | `warning`; the Watchdog is `none`) and
 * `annotations.summary` / `annotations.description` templated with `$labels` and `$value`.
 *
 * Metric names are the ones the Debian bookworm exporters expose: prometheus-node-exporter 1.5,
 * prometheus-postgres-exporter 0.11, prometheus-redis-exporter 1.45,
 * prometheus-blackbox-exporter 0.23, plus homefleet's own textfile metrics (backups,
 * certificates). The scrape conventions the rules rely on are written into the file's header
 * (see LABEL_CONVENTIONS) so that whoever writes the scrape config sees them next to the rules.
 *
 * Pure: no Pulumi, no I/O. Same input, same bytes.
 */
import { yamlDocumentText } from "../common/yamlBlock";

export interface AlertRulesInput {
  /** BackupStale fires when a backup's last success is older than this. Default 26. */
  readonly backupMaxAgeHours?: number;
  /** BackupCheckStale fires when a repository check's last success is older than this (checks run weekly). Default 194 (8 days and 2 hours). */
  readonly backupCheckMaxAgeHours?: number;
  /** CertificateExpiringSoon (warning) below this many days left. Default 14. */
  readonly certificateWarnDays?: number;
  /** CertificateExpiringCritical (critical) below this many days left. Default 3. */
  readonly certificateCriticalDays?: number;
  /** DiskSpaceLow below this percentage of free space. Default 10. */
  readonly diskFreePercent?: number;
  /** MemoryLow below this percentage of available memory. Default 10. */
  readonly memoryAvailablePercent?: number;
  /** ContainerRestartLoop when a podman unit restarted more than this often in 15 minutes. Default 3. */
  readonly restartLoopCount?: number;
  /** RedisMemoryHigh above this percentage of `maxmemory`. Default 90. */
  readonly redisMemoryPercent?: number;
  /** PostgreSQLTooManyConnections above this percentage of `max_connections`. Default 80. */
  readonly postgresConnectionsPercent?: number;
  /** LiteLLMHighLatency when a successful LiteLLM health probe takes longer than this. Default 5. */
  readonly litellmLatencySeconds?: number;
  /**
   * BackupMetricsAbsent fires when no host reports any backup at all. Turn it off for a fleet
   * that has no backups by design. Default true.
   */
  readonly backupsExpected?: boolean;
}

export const ALERT_RULE_DEFAULTS: Readonly<Required<AlertRulesInput>> = Object.freeze({
  backupMaxAgeHours: 26,
  backupCheckMaxAgeHours: 194,
  certificateWarnDays: 14,
  certificateCriticalDays: 3,
  diskFreePercent: 10,
  memoryAvailablePercent: 10,
  restartLoopCount: 3,
  redisMemoryPercent: 90,
  postgresConnectionsPercent: 80,
  litellmLatencySeconds: 5,
  backupsExpected: true,
});

/** The blackbox job that probes homefleet health endpoints, and the LiteLLM selector within it. */
export const BLACKBOX_HTTP_JOB = "blackbox-http";
export const LITELLM_PROBE_SELECTOR = `job="${BLACKBOX_HTTP_JOB}",kind="litellm"`;

/** Units homefleet renders on both flavours (podman-<stack>, redis-<stack>, homefleet-*). */
const HOMEFLEET_UNITS_RE = String.raw`(podman|redis|homefleet)-.*\\.service`;
/**
 * The homefleet units that stay active while healthy (services, and oneshots with
 * RemainAfterExit). Timer-driven oneshots (homefleet-backup-*, homefleet-cert-*) are inactive
 * between runs; they alert through HomefleetUnitFailed and their textfile metrics.
 */
const LONG_RUNNING_RE = String.raw`(podman|redis|homefleet-network|homefleet-postgresql)-.*\\.service`;

/** The fleet's native services' units (PrometheusSpec.nativeUnits): homefleet's too, for its unit alerts. */
export interface ManagedUnits {
  readonly all: readonly string[];
  readonly started: readonly string[];
}

/** A PromQL regex alternative of unit names, `.` escaped (names are catalogue units: letters, digits, - . @). */
const unitAlternatives = (base: string, names: readonly string[]) => [base, ...names.map((n) => n.replace(/\./g, String.raw`\\.`))].join("|");

/** The label matchers of the unit alerts: homefleet's units (with the native services'), the rest, and those that stay active. */
function unitSelectors(managed?: ManagedUnits) {
  const own = unitAlternatives(HOMEFLEET_UNITS_RE, managed?.all ?? []);
  return {
    homefleet: `name=~"${own}"`,
    other: `name!~"${own}"`,
    longRunning: `name=~"${unitAlternatives(LONG_RUNNING_RE, managed?.started ?? [])}"`,
  };
}

const CONTAINER_UNITS = String.raw`name=~"podman-.*\\.service"`;
/** Pseudo and image filesystems that are full or volatile by nature. */
const REAL_FILESYSTEMS = `fstype!~"tmpfs|overlay|squashfs"`;

export const LABEL_CONVENTIONS = `Managed by homefleet (render/monitoring/alertRules.ts). Prometheus alerting rules.

Scrape conventions these rules rely on:
- node_exporter (any job name) runs with --collector.systemd
  --collector.systemd.enable-restarts-metrics and --collector.textfile.directory=<dir>;
  homefleet's backup and certificate metrics are textfiles in <dir>.
- postgres_exporter and redis_exporter: any job name; PostgreSQLDown and RedisDown use pg_up and
  redis_up, TargetDown covers an exporter that cannot be scraped at all.
- blackbox_exporter HTTP probes of stack health endpoints are scraped by job "${BLACKBOX_HTTP_JOB}",
  with instance set to the probed URL and a target label kind set to the stack's kind
  ("litellm" or "container"). LiteLLMHighLatency matches {${LITELLM_PROBE_SELECTOR}}.
- Backup textfile metrics carry their own job label. With the default honor_labels: false,
  Prometheus renames it to exported_job; the backup rules copy exported_job back into job, so
  alerts name the backup job either way.`;

type Severity = "critical" | "warning" | "none";

interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: { readonly severity: Severity };
  readonly annotations: { readonly summary: string; readonly description: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

function alert(name: string, expr: string, forDuration: string | undefined, severity: Severity, summary: string, description: string): AlertRule {
  return {
    alert: name,
    expr,
    ...(forDuration === undefined ? {} : { for: forDuration }),
    labels: { severity },
    annotations: { summary, description },
  };
}

/**
 * A backup textfile metric with its job label restored: `exported_job` (set when Prometheus
 * scraped with honor_labels: false) is copied into `job` and dropped. Without `exported_job`
 * the series passes through unchanged.
 */
/** A backup metric with the job's own name as `job` (the scrape's job moves to exported_job); `selector` narrows it. */
function backupMetric(name: string, selector = ""): string {
  return `max without (exported_job) (label_replace(${name}${selector ? `{${selector}}` : ""}, "job", "$1", "exported_job", "(.+)"))`;
}

/** Repository checks report as backups with this kind; they run weekly, not daily. */
const CHECK_KIND = "restic-check";

function resolve(input: AlertRulesInput): Required<AlertRulesInput> {
  const known = new Set(Object.keys(ALERT_RULE_DEFAULTS));
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw new Error(`renderAlertRules: unknown option "${key}"`);
  }
  const merged: Required<AlertRulesInput> = { ...ALERT_RULE_DEFAULTS };
  for (const [key, value] of Object.entries(input) as [keyof AlertRulesInput, unknown][]) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  const problems: string[] = [];
  const positive = (key: keyof AlertRulesInput, max?: number): void => {
    const v = merged[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || (max !== undefined && v >= max)) {
      problems.push(`${key}: expected a number > 0${max === undefined ? "" : ` and < ${max}`}, got ${JSON.stringify(v)}`);
    }
  };
  positive("backupMaxAgeHours");
  positive("certificateWarnDays");
  positive("certificateCriticalDays");
  positive("diskFreePercent", 100);
  positive("memoryAvailablePercent", 100);
  positive("redisMemoryPercent", 100);
  positive("postgresConnectionsPercent", 100);
  positive("litellmLatencySeconds");
  positive("backupCheckMaxAgeHours");
  if (!Number.isInteger(merged.restartLoopCount) || merged.restartLoopCount < 1) {
    problems.push(`restartLoopCount: expected an integer >= 1, got ${JSON.stringify(merged.restartLoopCount)}`);
  }
  if (typeof merged.backupsExpected !== "boolean") {
    problems.push(`backupsExpected: expected a boolean, got ${JSON.stringify(merged.backupsExpected)}`);
  }
  if (problems.length === 0 && merged.certificateCriticalDays >= merged.certificateWarnDays) {
    problems.push(`certificateCriticalDays (${merged.certificateCriticalDays}) must be less than certificateWarnDays (${merged.certificateWarnDays})`);
  }
  if (problems.length) throw new Error(`renderAlertRules: invalid input\n  ${problems.join("\n  ")}`);
  return merged;
}

function groups(t: Required<AlertRulesInput>, managed?: ManagedUnits): RuleGroup[] {
  const units = unitSelectors(managed);
  const lastSuccess = backupMetric("homefleet_backup_last_success_timestamp_seconds");
  const backupLastSuccess = backupMetric("homefleet_backup_last_success_timestamp_seconds", `kind!="${CHECK_KIND}"`);
  const checkLastSuccess = backupMetric("homefleet_backup_last_success_timestamp_seconds", `kind="${CHECK_KIND}"`);
  const lastStatus = backupMetric("homefleet_backup_last_status");
  const lastRun = backupMetric("homefleet_backup_last_run_timestamp_seconds");
  const backupName = "{{ $labels.job }} ({{ $labels.kind }}) on {{ $labels.instance }}";

  return [
    {
      name: "homefleet.meta",
      rules: [
        alert(
          "Watchdog",
          "vector(1)",
          undefined,
          "none",
          "Alerting pipeline is alive.",
          "This alert always fires. It is a dead man's switch: route it to a heartbeat receiver that raises an alarm when the alert stops arriving, which means Prometheus, the rules or Alertmanager are broken.",
        ),
      ],
    },
    {
      name: "homefleet.targets",
      rules: [
        alert(
          "TargetDown",
          "up == 0",
          "5m",
          "critical",
          "Target {{ $labels.job }}/{{ $labels.instance }} is down.",
          "Prometheus could not scrape {{ $labels.instance }} of job {{ $labels.job }} for 5 minutes. The host or its exporter is down, and alerts that depend on its metrics are blind.",
        ),
      ],
    },
    {
      name: "homefleet.postgresql",
      rules: [
        alert(
          "PostgreSQLDown",
          "pg_up == 0",
          "2m",
          "critical",
          "PostgreSQL on {{ $labels.instance }} is down.",
          "postgres_exporter on {{ $labels.instance }} cannot connect to PostgreSQL (pg_up == 0) for 2 minutes.",
        ),
        alert(
          "PostgreSQLTooManyConnections",
          `100 * sum by (instance) (pg_stat_activity_count) / on (instance) max by (instance) (pg_settings_max_connections) > ${t.postgresConnectionsPercent}`,
          "5m",
          "warning",
          "PostgreSQL on {{ $labels.instance }} uses {{ printf \"%.0f\" $value }}% of max_connections.",
          `PostgreSQL on {{ $labels.instance }} has used more than ${t.postgresConnectionsPercent}% of max_connections for 5 minutes ({{ printf "%.1f" $value }}%). New clients such as LiteLLM will be refused when it reaches 100%.`,
        ),
      ],
    },
    {
      name: "homefleet.redis",
      rules: [
        alert(
          "RedisDown",
          "redis_up == 0",
          "2m",
          "critical",
          "Redis {{ $labels.instance }} is down.",
          "redis_exporter cannot reach Redis at {{ $labels.instance }} (redis_up == 0) for 2 minutes.",
        ),
        alert(
          "RedisMemoryHigh",
          `100 * redis_memory_used_bytes / (redis_memory_max_bytes > 0) > ${t.redisMemoryPercent}`,
          "10m",
          "warning",
          "Redis {{ $labels.instance }} uses {{ printf \"%.0f\" $value }}% of maxmemory.",
          `Redis {{ $labels.instance }} has used more than ${t.redisMemoryPercent}% of its maxmemory for 10 minutes ({{ printf "%.1f" $value }}%). It is evicting keys or refusing writes, depending on maxmemory-policy.`,
        ),
      ],
    },
    {
      name: "homefleet.units",
      rules: [
        alert(
          "HomefleetUnitFailed",
          `node_systemd_unit_state{${units.homefleet},state="failed"} == 1`,
          "2m",
          "critical",
          "Unit {{ $labels.name }} on {{ $labels.instance }} has failed.",
          "The homefleet unit {{ $labels.name }} on {{ $labels.instance }} is in the failed state. See journalctl -u {{ $labels.name }}.",
        ),
        alert(
          // Scheduled jobs and the host's other services: a failed oneshot stays failed until its next run.
          "SystemdUnitFailed",
          `node_systemd_unit_state{${units.other},state="failed"} == 1`,
          "5m",
          "warning",
          "Unit {{ $labels.name }} on {{ $labels.instance }} has failed.",
          "{{ $labels.name }} on {{ $labels.instance }} (a scheduled job, or a service homefleet does not run itself) is in the failed state. See journalctl -u {{ $labels.name }}.",
        ),
        alert(
          "HomefleetUnitInactive",
          `node_systemd_unit_state{${units.longRunning},state="active"} == 0 unless on (instance, name) node_systemd_unit_state{${units.longRunning},state="failed"} == 1`,
          "10m",
          "warning",
          "Unit {{ $labels.name }} on {{ $labels.instance }} is not active.",
          "The homefleet unit {{ $labels.name }} on {{ $labels.instance }} has not been active for 10 minutes (stopped, or stuck activating or deactivating). This unit stays active while it is healthy.",
        ),
        alert(
          "ContainerRestartLoop",
          `increase(node_systemd_service_restart_total{${CONTAINER_UNITS}}[15m]) > ${t.restartLoopCount}`,
          "1m",
          "warning",
          "Container unit {{ $labels.name }} on {{ $labels.instance }} is restarting in a loop.",
          `systemd restarted {{ $labels.name }} on {{ $labels.instance }} {{ printf "%.0f" $value }} times in the last 15 minutes (more than ${t.restartLoopCount}).`,
        ),
      ],
    },
    {
      name: "homefleet.http",
      rules: [
        alert(
          "HealthEndpointFailing",
          "probe_success == 0",
          "3m",
          "critical",
          "Health probe {{ $labels.instance }} is failing.",
          "The blackbox probe of {{ $labels.instance }} (job {{ $labels.job }}) has failed for 3 minutes.",
        ),
        alert(
          "LiteLLMHighLatency",
          `probe_duration_seconds{${LITELLM_PROBE_SELECTOR}} > ${t.litellmLatencySeconds} and probe_success{${LITELLM_PROBE_SELECTOR}} == 1`,
          "10m",
          "warning",
          "LiteLLM at {{ $labels.instance }} answers slowly.",
          `The LiteLLM health probe of {{ $labels.instance }} succeeds but has taken more than ${t.litellmLatencySeconds}s for 10 minutes ({{ printf "%.2f" $value }}s).`,
        ),
      ],
    },
    {
      name: "homefleet.backups",
      rules: [
        alert(
          "BackupFailed",
          `${lastStatus} == 0`,
          "5m",
          "warning",
          `Backup ${backupName} failed.`,
          `The last run of backup ${backupName} failed (homefleet_backup_last_status == 0).`,
        ),
        alert(
          "BackupStale",
          `time() - (${backupLastSuccess} > 0) > ${t.backupMaxAgeHours} * 3600`,
          "5m",
          "critical",
          `Backup ${backupName} is stale.`,
          `Backup ${backupName} last succeeded {{ $value | humanizeDuration }} ago, more than ${t.backupMaxAgeHours}h.`,
        ),
        alert(
          "BackupCheckStale",
          `time() - (${checkLastSuccess} > 0) > ${t.backupCheckMaxAgeHours} * 3600`,
          "5m",
          "warning",
          `Repository check ${backupName} is overdue.`,
          `The repository check ${backupName} last succeeded {{ $value | humanizeDuration }} ago, more than ${t.backupCheckMaxAgeHours}h: nobody knows whether the off-site backups can be restored.`,
        ),
        alert(
          "BackupNeverSucceeded",
          `${lastRun} unless on (instance, job, kind) (${lastSuccess} > 0)`,
          "15m",
          "critical",
          `Backup ${backupName} has never succeeded.`,
          `Backup ${backupName} has run but has no successful run on record (homefleet_backup_last_success_timestamp_seconds is absent or 0). No usable backup exists.`,
        ),
        ...(t.backupsExpected
          ? [
              alert(
                "BackupMetricsAbsent",
                "absent(homefleet_backup_last_run_timestamp_seconds)",
                "1h",
                "warning",
                "No host reports any homefleet backup.",
                "No homefleet_backup_last_run_timestamp_seconds series has existed for 1 hour: no backup has ever run, or node_exporter's textfile collector does not read the backup metrics.",
              ),
            ]
          : []),
      ],
    },
    {
      name: "homefleet.certificates",
      rules: [
        alert(
          "CertificateExpiringSoon",
          `homefleet_certificate_expiry_timestamp_seconds - time() < ${t.certificateWarnDays} * 86400`,
          "15m",
          "warning",
          "Certificate {{ $labels.certificate }} on {{ $labels.instance }} expires soon.",
          `Certificate {{ $labels.certificate }} (issuer {{ $labels.issuer }}) on {{ $labels.instance }} expires in {{ $value | humanizeDuration }}, less than ${t.certificateWarnDays} days.`,
        ),
        alert(
          "CertificateExpiringCritical",
          `homefleet_certificate_expiry_timestamp_seconds - time() < ${t.certificateCriticalDays} * 86400`,
          "15m",
          "critical",
          "Certificate {{ $labels.certificate }} on {{ $labels.instance }} is about to expire or has expired.",
          `Certificate {{ $labels.certificate }} (issuer {{ $labels.issuer }}) on {{ $labels.instance }} expires in {{ $value | humanizeDuration }}, less than ${t.certificateCriticalDays} days (negative: already expired).`,
        ),
        alert(
          "CertificateRenewalFailed",
          "homefleet_certificate_last_renewal_status == 0",
          "5m",
          "warning",
          "Renewal of certificate {{ $labels.certificate }} on {{ $labels.instance }} failed.",
          "The last renewal attempt of certificate {{ $labels.certificate }} on {{ $labels.instance }} failed (homefleet_certificate_last_renewal_status == 0).",
        ),
      ],
    },
    {
      name: "homefleet.node",
      rules: [
        alert(
          "DiskSpaceLow",
          `100 * node_filesystem_avail_bytes{${REAL_FILESYSTEMS}} / node_filesystem_size_bytes{${REAL_FILESYSTEMS}} < ${t.diskFreePercent}`,
          "10m",
          "warning",
          "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is almost full.",
          `Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} has {{ printf "%.1f" $value }}% space left, less than ${t.diskFreePercent}%.`,
        ),
        alert(
          "MemoryLow",
          `100 * node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < ${t.memoryAvailablePercent}`,
          "15m",
          "warning",
          "Host {{ $labels.instance }} is low on memory.",
          `Host {{ $labels.instance }} has had less than ${t.memoryAvailablePercent}% memory available for 15 minutes ({{ printf "%.1f" $value }}%).`,
        ),
        alert(
          "NodeTextfileScrapeError",
          "node_textfile_scrape_error == 1",
          "15m",
          "warning",
          "node_exporter on {{ $labels.instance }} cannot read its textfiles.",
          "node_exporter's textfile collector on {{ $labels.instance }} reports an error. Backup and certificate metrics from that host may be missing, so their alerts are blind.",
        ),
      ],
    },
  ];
}

/** The names of the alerts the rule file defines: what the review asks before it says a backup or a certificate is watched. */
export function alertNames(input: AlertRulesInput = {}): ReadonlySet<string> {
  return new Set(groups(resolve(input)).flatMap((g) => g.rules.map((r) => r.alert)));
}

/** The rule groups the rule file holds, as its YAML writes them. */
export function alertRuleGroups(input: AlertRulesInput = {}, managed?: ManagedUnits): RuleGroup[] {
  return groups(resolve(input), managed);
}

/** Renders the Prometheus rule file (YAML). */
export function renderAlertRules(input: AlertRulesInput = {}, managed?: ManagedUnits): string {
  return yamlDocumentText(LABEL_CONVENTIONS.split("\n"), { groups: alertRuleGroups(input, managed) });
}
