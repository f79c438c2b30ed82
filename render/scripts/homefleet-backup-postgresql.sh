#!/bin/bash
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
# shellcheck source=lib/backup-common.sh
. "${BASH_SOURCE%/*}/lib/backup-common.sh"

if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || [ "$port" -gt 65535 ]; then
  fail "PORT must be 1-65535, got: $port"
fi

if [[ ! $database =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$ ]]; then
  fail "DATABASE must be a plain identifier (letters, digits, _ and -), got: $database"
fi

partial=$(mktemp "$dest_dir/.$database-$stamp.dump.XXXXXX")
pg_dump --no-password --port "$port" --dbname "$database" \
  --format=custom --compress=6 --file "$partial"
# The archive's table of contents must read back, or the dump is not restorable.
pg_restore --list "$partial" >/dev/null
publish "$partial" "$dest_dir/$database-$stamp.dump"
prune "$database-$stamp_glob.dump"
