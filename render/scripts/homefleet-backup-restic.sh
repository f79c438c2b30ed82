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
# shellcheck source=lib/restic-common.sh
. "${BASH_SOURCE%/*}/lib/restic-common.sh"
restic backup --tag homefleet --host "$(hostname)" -- "$@"
# Grouped by host and tag, not by the default host and paths: a path added to the backup must not
# leave the older snapshots in a group of their own that retention never thins.
restic forget --prune --tag homefleet --host "$(hostname)" --group-by host,tags \
  --keep-daily "$keep_daily" --keep-weekly "$keep_weekly" --keep-monthly "$keep_monthly" --keep-yearly "$keep_yearly"
