/**
 * Backup scripts (issue 3, "backups"): PostgreSQL dumps, Redis RDB snapshots and a config/secrets
 * archive, each with retention and node-exporter textfile metrics. Like the scripts in
 * `./index.ts`, they take every value as an argument, from the environment or from a systemd
 * credential, never by text substitution: the TypeScript below only joins constant shell
 * fragments. Each one is checked by shellcheck and run for real (with restores) in
 * tests/backup.drill.test.ts.
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
import type { ScriptSpec } from "./index";

/** Validates JOB and defines the metrics, publish, prune and failure helpers; sets the trap. */
const COMMON = `
if [[ ! $job =~ ^[a-z0-9_-]+$ ]]; then
  echo "JOB must match ^[a-z0-9_-]+\\$, got: $job" >&2
  exit 2
fi
textfile_dir=\${HOMEFLEET_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
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
  labels="job=\\"$job\\",kind=\\"$kind\\""
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
  newest=$(find "$dest_dir" -maxdepth 1 -type f -name "$glob" -printf '%T@ %f\\n' | LC_ALL=C sort -n | tail -n 1 | cut -d ' ' -f 2-)
  listing=$(find "$dest_dir" -maxdepth 1 -type f -name "$glob" -mmin +"$((retention_days * 1440))" -printf '%f\\n')
  mapfile -t old_names <<<"$listing"
  for name in "\${old_names[@]}"; do
    if [ -n "$name" ] && [ "$name" != "$newest" ]; then
      rm -f -- "\${dest_dir:?}/$name"
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
`;

const PORT_CHECK = `
if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || [ "$port" -gt 65535 ]; then
  fail "PORT must be 1-65535, got: $port"
fi
`;

export const backupPostgresqlScript: ScriptSpec = {
  name: "homefleet-backup-postgresql",
  nixRuntimeInputs: ["postgresql", "coreutils", "findutils", "gnugrep"],
  text: `#!/bin/bash
# Dumps one PostgreSQL database with pg_dump --format=custom (compressed, restorable with
# pg_restore, one database per file) to DEST_DIR/DATABASE-YYYYmmdd_HHMMSS.dump (UTC), then
# applies retention and writes node-exporter textfile metrics (kind="postgresql").
# Runs as the postgres user and connects over the Unix socket with peer authentication: no
# password exists anywhere. The socket directory is libpq's default (/run/postgresql); a PGHOST
# in the environment overrides it, as for any libpq client (the drill test uses that).
# Daily dumps, no WAL archiving.
# Usage: homefleet-backup-postgresql DATABASE PORT DEST_DIR RETENTION_DAYS JOB
set -euo pipefail
umask 077

if [ "$#" -ne 5 ]; then
  echo "usage: $0 DATABASE PORT DEST_DIR RETENTION_DAYS JOB" >&2
  exit 2
fi
database=$1
port=$2
dest_dir=$3
retention_days=$4
job=$5
kind=postgresql
${COMMON}${PORT_CHECK}
if [[ ! $database =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$ ]]; then
  fail "DATABASE must be a plain identifier (letters, digits, _ and -), got: $database"
fi

partial=$(mktemp "$dest_dir/.$database-$stamp.dump.XXXXXX")
pg_dump --no-password --port "$port" --dbname "$database" \\
  --format=custom --compress=6 --file "$partial"
# The archive's table of contents must read back, or the dump is not restorable.
pg_restore --list "$partial" >/dev/null
publish "$partial" "$dest_dir/$database-$stamp.dump"
prune "$database-$stamp_glob.dump"
`,
};

export const backupRedisScript: ScriptSpec = {
  name: "homefleet-backup-redis",
  nixRuntimeInputs: ["redis", "coreutils", "findutils", "gnugrep"],
  text: `#!/bin/bash
# Snapshots a Redis instance: redis-cli SAVE, then a copy of DATA_DIR/dump.rdb to
# DEST_DIR/dump-YYYYmmdd_HHMMSS.rdb (UTC); then retention and node-exporter textfile metrics
# (kind="redis"). Never "redis-cli --rdb": that is the replication protocol, not a backup.
# Redis writes dump.rdb to a temp file and renames it, so the copy is never torn.
# The password comes from the systemd credential "redis-password"
# (LoadCredential=redis-password:<file>). It is given to redis-cli with --askpass, which reads it
# from standard input, here redirected straight from the credential file. So the password is
# never on any command line (world-readable in /proc/PID/cmdline), never in any process's
# environment (REDISCLI_AUTH would put it in redis-cli's), and never in a shell variable of
# this script. redis-cli 7 (Debian bookworm, nixpkgs) has --askpass; without a terminal it reads
# one line from stdin and prints no prompt.
# Usage: homefleet-backup-redis PORT DATA_DIR DEST_DIR RETENTION_DAYS JOB
set -euo pipefail
umask 077

if [ "$#" -ne 5 ]; then
  echo "usage: $0 PORT DATA_DIR DEST_DIR RETENTION_DAYS JOB" >&2
  exit 2
fi
port=$1
data_dir=$2
dest_dir=$3
retention_days=$4
job=$5
kind=redis
${COMMON}${PORT_CHECK}
password_file="\${CREDENTIALS_DIRECTORY:?run with LoadCredential=redis-password:<file>}/redis-password"
if [ ! -s "$password_file" ]; then
  fail "credential $password_file is missing or empty"
fi
rdb="$data_dir/dump.rdb"

save_started=$(date +%s)
# redis-cli exits 0 even when AUTH or SAVE fails, so the reply itself is checked.
reply=$(redis-cli -h 127.0.0.1 -p "$port" --askpass --no-auth-warning SAVE <"$password_file")
if [ "$reply" != "OK" ]; then
  fail "redis SAVE on port $port did not answer OK: $reply"
fi
if [ ! -f "$rdb" ]; then
  fail "$rdb does not exist after SAVE"
fi
if [ "$(stat -c %Y -- "$rdb")" -lt "$((save_started - 1))" ]; then
  fail "$rdb is older than the SAVE just done: wrong DATA_DIR or dbfilename?"
fi

partial=$(mktemp "$dest_dir/.dump-$stamp.rdb.XXXXXX")
cp -- "$rdb" "$partial"
if [ ! -s "$partial" ]; then
  fail "copy of $rdb is empty"
fi
if [ "$(head -c 5 -- "$partial")" != "REDIS" ]; then
  fail "copy of $rdb does not start with the RDB signature REDIS"
fi
publish "$partial" "$dest_dir/dump-$stamp.rdb"
prune "dump-$stamp_glob.rdb"
`,
};

export const backupConfigScript: ScriptSpec = {
  name: "homefleet-backup-config",
  nixRuntimeInputs: ["gnutar", "gzip", "coreutils", "findutils", "gnugrep"],
  text: `#!/bin/bash
# Archives files and directories (absolute PATHs) into DEST_DIR/KIND-YYYYmmdd_HHMMSS.tar.gz
# (UTC), mode 0600 through umask 077: homefleet's configuration and secrets (KIND config), or a
# container's volumes (KIND volumes). Members are stored relative to / (etc/..., var/lib/...), so
# a restore into a scratch directory never overwrites the live files by accident. A missing PATH
# fails the run. A file that changed while it was read (a running container's volume) is
# archived as read and reported, not a failure. Then retention and node-exporter textfile
# metrics (kind=KIND).
# Usage: homefleet-backup-config DEST_DIR RETENTION_DAYS JOB KIND PATH...
set -euo pipefail
umask 077

if [ "$#" -lt 5 ]; then
  echo "usage: $0 DEST_DIR RETENTION_DAYS JOB KIND PATH..." >&2
  exit 2
fi
dest_dir=$1
retention_days=$2
job=$3
kind=$4
shift 4
case $kind in
  config | volumes) ;;
  *)
    echo "KIND must be config or volumes, got: $kind" >&2
    exit 2
    ;;
esac
${COMMON}
members=()
for path in "$@"; do
  case $path in
    /) fail "refusing to archive / as a whole" ;;
    /*) ;;
    *) fail "PATH must be absolute, got: $path" ;;
  esac
  if [ ! -e "$path" ]; then
    fail "$path does not exist"
  fi
  members+=("\${path#/}")
done

partial=$(mktemp "$dest_dir/.$kind-$stamp.tar.gz.XXXXXX")
# GNU tar exits 1 when a file changed while it was read: the archive is complete, that file as read.
tar_status=0
tar --create --gzip --file "$partial" --directory / -- "\${members[@]}" || tar_status=$?
if [ "$tar_status" -eq 1 ]; then
  echo "some files changed while they were archived; the archive holds them as they were read" >&2
elif [ "$tar_status" -ne 0 ]; then
  fail "tar failed (status $tar_status)"
fi
# The archive must read back completely (gzip CRC and tar structure).
tar --list --gzip --file "$partial" >/dev/null
publish "$partial" "$dest_dir/$kind-$stamp.tar.gz"
prune "$kind-$stamp_glob.tar.gz"
`,
};

export const BACKUP_SCRIPTS: readonly ScriptSpec[] = [backupPostgresqlScript, backupRedisScript, backupConfigScript];
