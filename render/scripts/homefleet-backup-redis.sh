#!/bin/bash
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
# shellcheck source=lib/backup-common.sh
. "${BASH_SOURCE%/*}/lib/backup-common.sh"

if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || [ "$port" -gt 65535 ]; then
  fail "PORT must be 1-65535, got: $port"
fi

password_file="${CREDENTIALS_DIRECTORY:?run with LoadCredential=redis-password:<file>}/redis-password"
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
