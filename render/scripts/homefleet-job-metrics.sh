#!/bin/bash
# homefleet-job-metrics JOB: run by systemd after a scheduled job's command has ended
# (ExecStopPost=, as root, outside the job's sandbox), whatever the outcome. Writes the job's last
# run, its status and its last success into the node exporter's textfile directory, so that an
# alert rule can ask how long ago a job last succeeded (a failed run keeps the last success).
# systemd gives the outcome as SERVICE_RESULT: "success", or why not ("exit-code", "timeout", ...).
# A failure to write is logged and does not change the job's own result.
set -u

job=${1:-}
if [[ ! $job =~ ^[a-z][a-z0-9-]{0,47}$ ]]; then
  echo "usage: $0 JOB (a scheduled job's name)" >&2
  exit 2
fi
textfile_dir=${HOMEFLEET_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
metrics_file="$textfile_dir/homefleet_job_$job.prom"
labels="job=\"$job\""
now=$(date +%s)
status=0
if [ "${SERVICE_RESULT:-}" = success ]; then
  status=1
fi
last_success=""
if [ "$status" -eq 1 ]; then
  last_success=$now
elif [ -f "$metrics_file" ]; then
  last_success=$(grep -F -- "homefleet_job_last_success_timestamp_seconds{$labels} " "$metrics_file" | tail -n 1 | cut -d ' ' -f 2) || last_success=""
  [[ $last_success =~ ^[0-9]+$ ]] || last_success=""
fi

if ! mkdir -p -- "$textfile_dir" || ! tmp=$(mktemp "$textfile_dir/.homefleet_job_$job.prom.XXXXXX"); then
  echo "could not write $metrics_file" >&2
  exit 0
fi
if ! {
  echo "# HELP homefleet_job_last_run_timestamp_seconds Unix time at which the job's last run ended."
  echo "# TYPE homefleet_job_last_run_timestamp_seconds gauge"
  echo "homefleet_job_last_run_timestamp_seconds{$labels} $now"
  echo "# HELP homefleet_job_last_status 1 if the job's last run succeeded, 0 if it failed."
  echo "# TYPE homefleet_job_last_status gauge"
  echo "homefleet_job_last_status{$labels} $status"
  echo "# HELP homefleet_job_last_success_timestamp_seconds Unix time of the job's last successful run (absent if none is known)."
  echo "# TYPE homefleet_job_last_success_timestamp_seconds gauge"
  if [ -n "$last_success" ]; then
    echo "homefleet_job_last_success_timestamp_seconds{$labels} $last_success"
  fi
} >"$tmp" || ! chmod 0644 -- "$tmp" || ! mv -f -- "$tmp" "$metrics_file"; then
  rm -f -- "$tmp"
  echo "could not write $metrics_file" >&2
fi
if [ "$status" -eq 0 ]; then
  echo "job $job did not succeed (${SERVICE_RESULT:-unknown}, exit status ${EXIT_STATUS:-unknown})" >&2
fi
exit 0
