#!/bin/bash
# One restic repository of the host (backup.repositories.<name>): its paths with their exclude
# patterns, then the retention policy (forget --prune); or a repository check. Writes
# homefleet_backup_JOB.prom for the node exporter's textfile collector: last run, last status,
# last success (kept from the previous file on failure).
# Usage: homefleet-backup-repository backup JOB REPOSITORY KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY KEEP_YEARLY [--exclude=PATTERN]... -- PATH...
#        homefleet-backup-repository check JOB REPOSITORY
# A KEEP_* of 0 keeps no snapshot for that period (restic's own meaning of leaving it out).
set -euo pipefail

usage() {
  echo "usage: $0 backup JOB REPOSITORY KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY KEEP_YEARLY [--exclude=PATTERN]... -- PATH..." >&2
  echo "       $0 check JOB REPOSITORY" >&2
  exit 2
}

[ "$#" -ge 3 ] || usage
action=$1
job=$2
repository=$3
shift 3
# A repository check is not a backup: its metrics say kind="restic-check", so the backups'
# freshness alert (a day) does not judge a weekly check, which has an alert of its own.
case "$action" in
  backup) kind=restic ;;
  check) kind=restic-check ;;
  *) usage ;;
esac
if ! [[ "$job" =~ ^[A-Za-z0-9_-]+$ ]]; then
  echo "bad job name $job" >&2
  exit 2
fi
excludes=()
if [ "$action" = backup ]; then
  [ "$#" -ge 4 ] || usage
  keep_daily=$1
  keep_weekly=$2
  keep_monthly=$3
  keep_yearly=$4
  shift 4
  for keep in "$keep_daily" "$keep_weekly" "$keep_monthly" "$keep_yearly"; do
    [[ "$keep" =~ ^[0-9]+$ ]] || usage
  done
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in
      --exclude=?*) excludes+=("$1") ;;
      *) usage ;;
    esac
    shift
  done
  # The paths follow "--", at least one.
  [ "$#" -ge 2 ] || usage
  shift
elif [ "$#" -ne 0 ]; then
  usage
fi
# shellcheck source=lib/restic-common.sh
. "${BASH_SOURCE%/*}/lib/restic-common.sh"
restic backup --tag homefleet --host "$(hostname)" "${excludes[@]}" -- "$@"
# Grouped by host and tag, not by the default host and paths: a path added to the repository must
# not leave the older snapshots in a group of their own that retention never thins. Each
# repository is its own (config refuses two with one URL), so the group is this repository's.
restic forget --prune --tag homefleet --host "$(hostname)" --group-by host,tags \
  --keep-daily "$keep_daily" --keep-weekly "$keep_weekly" --keep-monthly "$keep_monthly" --keep-yearly "$keep_yearly"
