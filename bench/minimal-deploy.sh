#!/usr/bin/env bash
# The deploy benchmark's floor (bench/deploy.bench.ts): the least a deployer can do. Like a
# deployer with state (Pulumi's, say), it is given the manifest it deployed last and works out
# locally what changed, then opens ONE ssh session per host, in parallel, that does only that:
#   first push   all files in (one tar), then `systemctl enable --now` of the units to start
#                (enable's own daemon-reload is the only one);
#   change       the changed files in (one tar), daemon-reload only if a unit file changed
#                (enable --now instead when a unit to start is new), restart only the units
#                that read a changed file;
#   no-op        a hash comparison of all files on the host (sha256sum --check), nothing else.
# No locking, no rollback, no health gate, no record on the host: a floor, not a deployer.
#
#   minimal-deploy.sh -i KEY BUNDLE_DIR PREVIOUS_MANIFEST_TSV|- HOSTS_FILE
#
# BUNDLE_DIR: as bench/plain-deploy.sh's (files/, manifest.tsv, start). PREVIOUS_MANIFEST_TSV: the
# manifest.tsv deployed last to these hosts, or - for a first push. HOSTS_FILE: one host per line,
# "ADDRESS KNOWN_HOSTS_FILE". Prints one line per host; exits 1 if any host failed.
set -euo pipefail

usage() {
  echo "usage: $0 -i KEY BUNDLE_DIR PREVIOUS_MANIFEST_TSV|- HOSTS_FILE" >&2
  exit 2
}

key=""
while getopts "i:" opt; do
  case "$opt" in
    i) key=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
if [ "$#" -ne 3 ] || [ -z "$key" ]; then usage; fi
bundle=$1 previous=$2 hosts=$3
if ! [ -f "$bundle/manifest.tsv" ] || ! [ -f "$bundle/start" ]; then
  echo "not a bundle: $bundle" >&2
  exit 2
fi

declare -A was=() was_unit=()
if [ "$previous" != - ]; then
  while IFS=$'\t' read -r sha mode path _units; do
    was[$path]="$sha $mode"
    was_unit[${path##*/}]=1
  done <"$previous"
fi
mapfile -t start <"$bundle/start"

changed=() restart=() new_units=() check="" unit_changed=""
while IFS=$'\t' read -r sha mode path units; do
  check+="$sha  $path"$'\n'
  [ "${was[$path]:-}" = "$sha $mode" ] && continue
  changed+=("${path#/}")
  if [ -n "$units" ]; then
    IFS=, read -ra list <<<"$units"
    restart+=("${list[@]}")
  fi
  [[ $path == /etc/systemd/system/* ]] && unit_changed=1
done <"$bundle/manifest.tsv"
for unit in "${start[@]}"; do
  [ -n "${was_unit[$unit]:-}" ] || new_units+=("$unit")
done

tarball=/dev/null
if [ "${#changed[@]}" -eq 0 ]; then
  remote="sha256sum --check --quiet <<'EOF'"$'\n'"$check"'EOF'
else
  tarball=$(mktemp)
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -f '$tarball'" EXIT
  # Files only, no directory entries: extracting must not touch /etc's own mode or times.
  tar -C "$bundle/files" -c --no-recursion -f "$tarball" "${changed[@]}"
  remote="tar -x -C / --no-same-owner"
  if [ "$previous" = - ]; then
    remote+=" && systemctl enable --now ${start[*]}"
  else
    if [ "${#new_units[@]}" -gt 0 ]; then
      remote+=" && systemctl enable --now ${new_units[*]}"
    elif [ -n "$unit_changed" ]; then
      remote+=" && systemctl daemon-reload"
    fi
    if [ "${#restart[@]}" -gt 0 ]; then
      remote+=" && systemctl restart $(printf '%s\n' "${restart[@]}" | sort -u | tr '\n' ' ')"
    fi
  fi
fi

pids=() names=() status=0
while read -r address known; do
  [ -n "$address" ] || continue
  ssh -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$known" -o ConnectTimeout=10 -o LogLevel=ERROR \
    "root@$address" "$remote" <"$tarball" &
  pids+=("$!")
  names+=("$address")
done <"$hosts"
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    echo "${names[$i]}: ${#changed[@]} files changed"
  else
    echo "${names[$i]}: FAILED" >&2
    status=1
  fi
done
exit "$status"
