#!/bin/bash
# Off-site copy of the night's dumps with restic, then the retention policy (forget --prune);
# or a repository check. Writes homefleet_backup_JOB.prom for the node exporter's textfile
# collector: last run, last status, last success (kept from the previous file on failure).
# Usage: homefleet-backup-restic backup|check REPOSITORY KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY KEEP_YEARLY JOB PATH...
# A KEEP_* of 0 keeps no snapshot for that period (restic's own meaning of leaving it out).
set -euo pipefail

if [ "$#" -lt 8 ]; then
  echo "usage: $0 backup|check REPOSITORY KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY KEEP_YEARLY JOB PATH..." >&2
  exit 2
fi
action=$1
repository=$2
keep_daily=$3
keep_weekly=$4
keep_monthly=$5
keep_yearly=$6
job=$7
shift 7
# A repository check is not a backup: its metrics say kind="restic-check", so the backups'
# freshness alert (a day) does not judge a weekly check, which has an alert of its own.
case "$action" in
  backup) kind=restic ;;
  check) kind=restic-check ;;
  *)
    echo "unknown action $action" >&2
    exit 2
    ;;
esac
if ! [[ "$job" =~ ^[a-z0-9_-]+$ ]]; then
  echo "bad job name $job" >&2
  exit 2
fi

textfile_dir=${HOMEFLEET_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
metrics="$textfile_dir/homefleet_backup_$job.prom"
started=$(date +%s)
previous_success=0
if [ -r "$metrics" ]; then
  previous_success=$(sed -n 's/^homefleet_backup_last_success_timestamp_seconds{[^}]*} \([0-9]*\)$/\1/p' "$metrics" | head -n 1)
  previous_success=${previous_success:-0}
fi

write_metrics() {
  local status=$1 success=$2
  local tmp
  tmp=$(mktemp "$textfile_dir/.homefleet_backup_$job.XXXXXX")
  {
    echo "# HELP homefleet_backup_last_run_timestamp_seconds Unix time the backup job last ran."
    echo "# TYPE homefleet_backup_last_run_timestamp_seconds gauge"
    echo "homefleet_backup_last_run_timestamp_seconds{job=\"$job\",kind=\"$kind\"} $started"
    echo "# HELP homefleet_backup_last_status 1 if the last run succeeded, 0 if it failed."
    echo "# TYPE homefleet_backup_last_status gauge"
    echo "homefleet_backup_last_status{job=\"$job\",kind=\"$kind\"} $status"
    echo "# HELP homefleet_backup_last_success_timestamp_seconds Unix time of the last successful run."
    echo "# TYPE homefleet_backup_last_success_timestamp_seconds gauge"
    echo "homefleet_backup_last_success_timestamp_seconds{job=\"$job\",kind=\"$kind\"} $success"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$metrics"
}

on_exit() {
  local code=$?
  if [ "$code" -eq 0 ]; then
    write_metrics 1 "$(date +%s)"
  else
    write_metrics 0 "$previous_success"
  fi
}
trap on_exit EXIT

export RESTIC_REPOSITORY="$repository"
export RESTIC_PASSWORD_FILE="${CREDENTIALS_DIRECTORY:?run with LoadCredential=restic-password:<file>}/restic-password"

if [ "$action" = check ]; then
  restic check
  exit 0
fi

# First run against a new repository: initialise it.
if ! restic cat config >/dev/null 2>&1; then
  restic init
fi
restic backup --tag homefleet --host "$(hostname)" -- "$@"
# Grouped by host and tag, not by the default host and paths: a path added to the backup must not
# leave the older snapshots in a group of their own that retention never thins.
restic forget --prune --tag homefleet --host "$(hostname)" --group-by host,tags \
  --keep-daily "$keep_daily" --keep-weekly "$keep_weekly" --keep-monthly "$keep_monthly" --keep-yearly "$keep_yearly"
