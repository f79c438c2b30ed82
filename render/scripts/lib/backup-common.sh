# shellcheck shell=bash
# shellcheck disable=SC2154 # job, kind, dest_dir and retention_days are set by the script that includes this
# shellcheck disable=SC2034 # stamp and stamp_glob are used by the script that includes this
# Shared part of homefleet-backup-postgresql, -redis and -config: validates JOB, defines the
# metrics, publish, prune and fail helpers, sets the EXIT trap, and checks RETENTION_DAYS and
# DEST_DIR. Not a script of its own and never installed: render/scripts/activate.ts
# (hostScriptText) puts this file's text, without this leading comment block, in place of the
# two lines that source it, so every installed script is one self-contained file. Run from the
# repository, the including script sources it for real and behaves the same.

if [[ ! $job =~ ^[a-z0-9_-]+$ ]]; then
  echo "JOB must match ^[a-z0-9_-]+\$, got: $job" >&2
  exit 2
fi
textfile_dir=${HOMEFLEET_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
metrics_file="$textfile_dir/homefleet_backup_$job.prom"
stamp_glob='[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9][0-9]'
artifact_size=0
partial=""

fail() {
  echo "$*" >&2
  exit 1
}

# Replaces the metrics file atomically. STATUS is 1 or 0; SIZE in bytes. Runs in the EXIT trap,
# so every step checks its own result instead of relying on errexit.
write_metrics() {
  local status=$1 size=$2 now labels last_success metrics_tmp
  now=$(date +%s) || return 1
  labels="job=\"$job\",kind=\"$kind\""
  last_success=""
  if [ "$status" -eq 1 ]; then
    last_success=$now
  elif [ -f "$metrics_file" ]; then
    last_success=$(grep -F -- "homefleet_backup_last_success_timestamp_seconds{$labels} " "$metrics_file" | tail -n 1 | cut -d ' ' -f 2) || last_success=""
    [[ $last_success =~ ^[0-9]+$ ]] || last_success=""
  fi
  metrics_tmp=$(mktemp "$textfile_dir/.homefleet_backup_$job.prom.XXXXXX") || return 1
  if ! {
    echo "# HELP homefleet_backup_last_run_timestamp_seconds Unix time at which the last backup run ended."
    echo "# TYPE homefleet_backup_last_run_timestamp_seconds gauge"
    echo "homefleet_backup_last_run_timestamp_seconds{$labels} $now"
    echo "# HELP homefleet_backup_last_status 1 if the last backup run succeeded, 0 if it failed."
    echo "# TYPE homefleet_backup_last_status gauge"
    echo "homefleet_backup_last_status{$labels} $status"
    echo "# HELP homefleet_backup_last_success_timestamp_seconds Unix time of the last successful backup run (absent if none is known)."
    echo "# TYPE homefleet_backup_last_success_timestamp_seconds gauge"
    if [ -n "$last_success" ]; then
      echo "homefleet_backup_last_success_timestamp_seconds{$labels} $last_success"
    fi
    echo "# HELP homefleet_backup_last_size_bytes Size in bytes of the artifact written by the last backup run (0 if it failed)."
    echo "# TYPE homefleet_backup_last_size_bytes gauge"
    echo "homefleet_backup_last_size_bytes{$labels} $size"
  } >"$metrics_tmp" || ! chmod 0644 -- "$metrics_tmp" || ! mv -f -- "$metrics_tmp" "$metrics_file"; then
    rm -f -- "$metrics_tmp"
    return 1
  fi
}

finish() {
  local rc=$?
  trap - EXIT
  if [ -n "$partial" ]; then
    rm -f -- "$partial"
  fi
  if [ "$rc" -eq 0 ]; then
    if ! write_metrics 1 "$artifact_size"; then
      echo "could not write $metrics_file" >&2
      rc=1
    fi
  else
    echo "backup job $job ($kind) failed (status $rc)" >&2
    write_metrics 0 0 || echo "could not write $metrics_file" >&2
  fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Gives a checked temp file its final name: fsync the data, rename (atomic; the final name never
# exists half-written), fsync the directory so the rename survives a crash.
publish() {
  local tmp=$1 final=$2
  if [ -e "$final" ]; then
    fail "$final already exists"
  fi
  sync -- "$tmp"
  mv -- "$tmp" "$final"
  partial=""
  sync -- "$dest_dir"
  artifact_size=$(stat -c %s -- "$final")
  echo "wrote $final ($artifact_size bytes)"
}

# Deletes the files in DEST_DIR named by the find pattern GLOB that are older than RETENTION_DAYS
# days, except the newest matching file, which is always kept. GLOB only matches names without
# spaces or newlines, so newline-separated lists are safe here.
prune() {
  local glob=$1 newest listing name
  local -a old_names
  newest=$(find "$dest_dir" -maxdepth 1 -type f -name "$glob" -printf '%T@ %f\n' | LC_ALL=C sort -n | tail -n 1 | cut -d ' ' -f 2-)
  listing=$(find "$dest_dir" -maxdepth 1 -type f -name "$glob" -mmin +"$((retention_days * 1440))" -printf '%f\n')
  mapfile -t old_names <<<"$listing"
  for name in "${old_names[@]}"; do
    if [ -n "$name" ] && [ "$name" != "$newest" ]; then
      rm -f -- "${dest_dir:?}/$name"
      echo "retention: removed $dest_dir/$name"
    fi
  done
}

if [[ ! $retention_days =~ ^[1-9][0-9]{0,4}$ ]]; then
  fail "RETENTION_DAYS must be a whole number of days from 1 to 99999, got: $retention_days"
fi
case $dest_dir in
  /*) ;;
  *) fail "DEST_DIR must be an absolute path, got: $dest_dir" ;;
esac
if [ ! -d "$dest_dir" ] || [ ! -w "$dest_dir" ]; then
  fail "DEST_DIR $dest_dir is not a writable directory"
fi
stamp=$(date -u +%Y%m%d_%H%M%S)
