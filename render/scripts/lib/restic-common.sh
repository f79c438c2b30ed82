# shellcheck shell=bash
# shellcheck disable=SC2154 # action, job, kind and repository are set by the script that includes this
# Shared part of homefleet-backup-restic and homefleet-backup-repository: the metrics file (last
# run, last status, last success, kept from the previous file on failure) and the EXIT trap that
# writes it; restic's repository and password (the systemd credential restic-password); the
# `check` action; a new repository initialised on its first backup. Not a script of its own and
# never installed: render/scripts/files.ts (hostScriptText) puts this file's text, without this
# leading comment block, in place of the two lines that source it.

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
