/**
 * Backup scripts (issue 3, "backups"): PostgreSQL dumps, Redis RDB snapshots and a config/secrets
 * archive, each with retention and node-exporter textfile metrics. Like the scripts in
 * `./index.ts`, they take every value as an argument, from the environment or from a systemd
 * credential, never by text substitution. Each is a file, `render/scripts/<name>.sh`; the part
 * they share is `render/scripts/lib/backup-common.sh`, included at load (./files.ts). Each one
 * is checked by shellcheck and run for real (with restores) in tests/backup.drill.test.ts.
 *
 * Shared behaviour of all three:
 * - JOB (`^[a-z0-9_-]+$`) names the metrics file; an invalid JOB or a wrong argument count exits 2
 *   before anything is written. Every later failure, including a bad argument, still writes the
 *   metrics (EXIT trap) with status 0 and exits non-zero.
 * - umask 077: backups are readable by their owner only. The metrics file is made 0644 on
 *   purpose, because node exporter must read it.
 * - An artifact is written to a hidden temp file in DEST_DIR, checked, fsynced, and only then
 *   renamed to its final name; a partial or failed backup never has a name retention or a restore
 *   would pick up. The name's timestamp is UTC (YYYYmmdd_HHMMSS), so names sort correctly across
 *   daylight saving changes.
 * - Retention runs only after a successful backup. It deletes only files whose names are exactly
 *   `<prefix>-YYYYmmdd_HHMMSS.<ext>` (digits in the timestamp places, so `<prefix>-*.<ext>` but
 *   stricter: database `app` never touches `app-staging-...` or `app-notes.dump`), older than
 *   RETENTION_DAYS days by mtime, and always keeps the newest matching file.
 *
 * Metrics contract (alert rules depend on it), file `homefleet_backup_<JOB>.prom` in
 * `${HOMEFLEET_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}`, replaced atomically (temp file
 * in the same directory, then rename):
 *   homefleet_backup_last_run_timestamp_seconds{job="<JOB>",kind="<kind>"} <unix time the run ended>
 *   homefleet_backup_last_status{job="<JOB>",kind="<kind>"} <1 success | 0 failure>
 *   homefleet_backup_last_success_timestamp_seconds{job="<JOB>",kind="<kind>"} <unix>
 *   homefleet_backup_last_size_bytes{job="<JOB>",kind="<kind>"} <bytes of this run's artifact; 0 on failure>
 * On failure the success timestamp is carried over from the previous file; if there is none (the
 * job never succeeded) the line is OMITTED, not written as 0 (a 0 would claim a success in 1970).
 * Alert on `homefleet_backup_last_status == 0` and on absence/staleness of the success line.
 */
import { hostScriptText } from "./files";
import type { ScriptSpec } from "./index";

export const backupPostgresqlScript: ScriptSpec = {
  name: "homefleet-backup-postgresql",
  nixRuntimeInputs: ["postgresql", "coreutils", "findutils", "gnugrep"],
  text: hostScriptText("homefleet-backup-postgresql.sh"),
};

export const backupRedisScript: ScriptSpec = {
  name: "homefleet-backup-redis",
  nixRuntimeInputs: ["redis", "coreutils", "findutils", "gnugrep"],
  text: hostScriptText("homefleet-backup-redis.sh"),
};

export const backupConfigScript: ScriptSpec = {
  name: "homefleet-backup-config",
  nixRuntimeInputs: ["gnutar", "gzip", "coreutils", "findutils", "gnugrep"],
  text: hostScriptText("homefleet-backup-config.sh"),
};

export const BACKUP_SCRIPTS: readonly ScriptSpec[] = [backupPostgresqlScript, backupRedisScript, backupConfigScript];
