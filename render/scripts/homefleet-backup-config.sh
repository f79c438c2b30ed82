#!/bin/bash
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
# shellcheck source=lib/backup-common.sh
. "${BASH_SOURCE%/*}/lib/backup-common.sh"

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
  members+=("${path#/}")
done

partial=$(mktemp "$dest_dir/.$kind-$stamp.tar.gz.XXXXXX")
# GNU tar exits 1 when a file changed while it was read: the archive is complete, that file as read.
tar_status=0
tar --create --gzip --file "$partial" --directory / -- "${members[@]}" || tar_status=$?
if [ "$tar_status" -eq 1 ]; then
  echo "some files changed while they were archived; the archive holds them as they were read" >&2
elif [ "$tar_status" -ne 0 ]; then
  fail "tar failed (status $tar_status)"
fi
# The archive must read back completely (gzip CRC and tar structure).
tar --list --gzip --file "$partial" >/dev/null
publish "$partial" "$dest_dir/$kind-$stamp.tar.gz"
prune "$kind-$stamp_glob.tar.gz"
