#!/usr/bin/env bash
# The deploy benchmark's "plain script" deployer (bench/deploy.bench.ts): the practical limit for
# pushing files to systemd hosts. Per host, in parallel, ONE ssh session: a tar of every file plus
# their sha256s goes in on stdin; the host installs the files whose hash differs, runs
# daemon-reload and restarts the units that read a changed file. A no-op compares hashes only.
#
#   plain-deploy.sh -i KEY BUNDLE_DIR HOSTS_FILE
#
# BUNDLE_DIR holds:
#   files/ABSOLUTE/PATH   every file, at its target path under files/
#   manifest.tsv          SHA256 <TAB> MODE <TAB> PATH <TAB> UNIT[,UNIT...] (units a change restarts)
#   start                 units to enable and start, one per line
# HOSTS_FILE: one host per line, "ADDRESS KNOWN_HOSTS_FILE" (logs in as root, host key pinned).
# Prints one line per host; exits 1 if any host failed.
set -euo pipefail

usage() {
  echo "usage: $0 -i KEY BUNDLE_DIR HOSTS_FILE" >&2
  exit 2
}

# Runs on the host, in a subshell, with the tar on stdin (sent with `declare -f`).
# shellcheck disable=SC2317 # reached on the host, through declare -f
apply_on_host() (
  set -euo pipefail
  dir=$(mktemp -d /run/plain-deploy.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
  tar -x -C "$dir"
  # Hash comparison: one sha256sum for all files; a line per file that differs or is missing.
  changed=()
  while IFS= read -r line; do
    changed+=("${line%%: FAILED*}")
  done < <(cut -f1,3 "$dir/manifest.tsv" | sed 's/\t/  /' | sha256sum --check --quiet 2>/dev/null | grep ': FAILED' || true)
  if [ "${#changed[@]}" -eq 0 ]; then
    echo "unchanged"
    exit 0
  fi
  restart=() enable=()
  declare -A is_changed=() is_start=()
  for path in "${changed[@]}"; do is_changed[$path]=1; done
  mapfile -t start <"$dir/start"
  for unit in "${start[@]}"; do is_start[$unit]=1; done
  while IFS=$'\t' read -r _sha mode path units; do
    [ -n "${is_changed[$path]:-}" ] || continue
    mkdir -p "$(dirname "$path")"
    install -m "$mode" "$dir/files$path" "$path.plain-new"
    mv -f "$path.plain-new" "$path"
    if [ -n "$units" ]; then
      IFS=, read -ra list <<<"$units"
      restart+=("${list[@]}")
    fi
    # A new or changed unit file of a unit to start: (re-)enable it (its [Install] may be new).
    unit=${path##*/}
    if [ "$path" = "/etc/systemd/system/$unit" ] && [ -n "${is_start[$unit]:-}" ]; then enable+=("$unit"); fi
  done <"$dir/manifest.tsv"
  # `enable` reloads systemd itself; reload once, not twice.
  if [ "${#enable[@]}" -gt 0 ]; then systemctl enable --quiet "${enable[@]}"; else systemctl daemon-reload; fi
  if [ "${#restart[@]}" -gt 0 ]; then
    mapfile -t restart < <(printf '%s\n' "${restart[@]}" | sort -u)
    systemctl restart "${restart[@]}"
  fi
  if [ "${#start[@]}" -gt 0 ]; then systemctl start "${start[@]}"; fi
  echo "changed ${#changed[@]} files, restarted: ${restart[*]:-none}"
)

main() {
  local key="" opt
  while getopts "i:" opt; do
    case "$opt" in
      i) key=$OPTARG ;;
      *) usage ;;
    esac
  done
  shift $((OPTIND - 1))
  if [ "$#" -ne 2 ] || [ -z "$key" ]; then usage; fi
  local bundle=$1 hosts=$2 tarball
  if ! [ -f "$bundle/manifest.tsv" ] || ! [ -f "$bundle/start" ] || ! [ -d "$bundle/files" ]; then
    echo "not a bundle: $bundle" >&2
    exit 2
  fi
  tarball=$(mktemp)
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -f '$tarball'" EXIT
  tar -C "$bundle" -c -f "$tarball" manifest.tsv start files

  local remote address known pids=() names=() i status=0
  remote="$(declare -f apply_on_host); apply_on_host"
  while read -r address known; do
    [ -n "$address" ] || continue
    ssh -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
      -o UserKnownHostsFile="$known" -o ConnectTimeout=10 -o LogLevel=ERROR \
      "root@$address" "$remote" <"$tarball" 2>&1 | sed "s/^/$address: /" &
    pids+=("$!")
    names+=("$address")
  done <"$hosts"
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "${names[$i]}: FAILED" >&2
      status=1
    fi
  done
  exit "$status"
}

main "$@"
