#!/bin/bash
# homefleet-activate: the host side of a homefleet deployment. The deployer streams a generation
# in, then asks for it to be switched to, confirmed or rolled back. Every generation is a complete,
# verified copy of homefleet's files and secrets, so going back is installing another generation.
#
# One state machine, in one file written atomically ($root/state: PHASE CURRENT CONFIRMED):
#   confirmed     CURRENT is installed and was confirmed healthy (CURRENT = CONFIRMED, or none)
#   switching     CURRENT is being installed; the revert timer is armed already
#   armed         CURRENT is installed and waits for its confirmation; the timer reverts it
#   rolling-back  CURRENT failed and CONFIRMED (or nothing) is being installed again
# A rollback always goes to CONFIRMED, the last generation confirmed healthy, or to nothing
# installed when no generation ever was. Every state change runs under one lock
# ($root/state.lock), whoever asks: the deployer or the revert timer. Each checks the state under
# that lock first, so a rollback that lost the race does nothing.
#
# Commands:
#   hold HOLDER       take the deploy lock and keep it while stdin sends a line at least every
#                     30 s (the deployer's heartbeat); another deployment is refused, naming HOLDER
#   prepare GEN       read a tar (manifest.json, files/ of the files that changed, secrets.json,
#                     secrets/ of the secrets that changed) from stdin; link every unchanged file
#                     and secret from the current generation; verify every sha256
#   switch GEN [ARM]  arm the revert timer for ARM seconds (unless GEN is a repair of the
#                     confirmed generation), then install GEN: stop and disable units that leave,
#                     install what differs, remove what GEN has not, restart what reads a change
#   confirm GEN       GEN passed its health gate: disarm, GEN becomes the confirmed generation
#   rollback GEN      GEN failed: install the confirmed generation again (or remove GEN's units
#                     and files when none is); nothing happens when GEN is no longer current
#   expire GEN        the revert timer: the same as rollback
#   recover           remove what cut deployments left (partial generations, half-written files)
#                     and finish a rollback that was interrupted
#   remove            stop and disable every kept generation's units, remove their files,
#                     secrets and bridges, and homefleet's state; data directories stay
#   status            JSON: phase, current and confirmed generation, the current manifest, the
#                     sha256 of every installed file and secret, every kept generation
#   gc KEEP           delete all but the KEEP newest generations, never current or confirmed
# Layout: $root/generations/N/{manifest.json,files/...,secrets.json,secrets/...}.
set -euo pipefail
umask 022
# NixOS has no jq until homefleet's module adds it: borrow it from nixpkgs for the first switch.
if ! command -v jq >/dev/null 2>&1 && command -v nix-build >/dev/null 2>&1; then
  PATH="$(nix-build '<nixpkgs>' -A jq --no-out-link)/bin:$PATH"
fi

root=${HOMEFLEET_STATE_DIR:-/var/lib/homefleet}
gens=$root/generations
self=$(readlink -f "$0")
timer=homefleet-confirm
# Exit statuses the deployer tells apart.
EXIT_HELD=75    # another deployment holds the deploy lock
EXIT_STATE=76   # the state file is damaged
EXIT_STALE=77   # confirm: the generation is no longer the one waiting for confirmation

usage() {
  echo "usage: $0 hold HOLDER | prepare GEN | switch GEN [ARM_SECONDS] | confirm GEN | rollback GEN | expire GEN | recover | remove | status | gc KEEP" >&2
  exit 2
}

number() {
  if ! [[ "$1" =~ ^[0-9]+$ ]]; then
    echo "not a number: $1" >&2
    exit 2
  fi
}

# Sets phase, current and confirmed from the state file. A host deployed by an older homefleet
# has current/previous symlinks instead: read those.
read_state() {
  phase=confirmed current="" confirmed=""
  if [ -f "$root/state" ]; then
    local line
    line=$(head -c 200 "$root/state")
    if ! [[ "$line" =~ ^(confirmed|switching|armed|rolling-back)\ (-|[0-9]+)\ (-|[0-9]+)$ ]]; then
      echo "the state file $root/state is damaged (it holds '${line//[^a-z0-9 -]/?}'); expected 'PHASE CURRENT CONFIRMED'" >&2
      exit "$EXIT_STATE"
    fi
    phase=${BASH_REMATCH[1]} current=${BASH_REMATCH[2]#-} confirmed=${BASH_REMATCH[3]#-}
  elif [ -L "$root/current" ]; then
    current=$(basename "$(readlink "$root/current")")
    confirmed=$current
    if systemctl is-active --quiet "$timer.timer" 2>/dev/null; then
      phase=armed
      confirmed=""
      if [ -L "$root/previous" ]; then confirmed=$(basename "$(readlink "$root/previous")"); fi
    fi
  fi
}

write_state() { # PHASE CURRENT CONFIRMED
  printf '%s %s %s\n' "$1" "${2:--}" "${3:--}" >"$root/state.new"
  mv -f "$root/state.new" "$root/state"
  rm -f "$root/current" "$root/previous"
  phase=$1 current=$2 confirmed=$3
}

# A generation is usable when its manifest (and secrets list, if any) parse.
intact() { # GEN
  [ -n "$1" ] && jq -e '.sha256 and .files' "$gens/$1/manifest.json" >/dev/null 2>&1 &&
    { [ ! -e "$gens/$1/secrets.json" ] || jq -e '.secrets' "$gens/$1/secrets.json" >/dev/null 2>&1; }
}

# One line per file: PATH<TAB>MODE<TAB>SHA256<TAB>OWNER:GROUP
files_of() { # MANIFEST
  jq -r '.files[] | [.path, .mode, .sha256, ((.owner // "root") + ":" + (.group // "root"))] | @tsv' "$1"
}

secrets_of() { # SECRETS_JSON: the same for a generation's secrets (nothing when it has none)
  if [ -f "$1" ]; then
    jq -r '.secrets[] | [.path, .mode, .sha256, (.owner + ":" + .group)] | @tsv' "$1"
  fi
}

# Numbers of the kept generations, in ascending order.
kept_generations() {
  if [ -d "$gens" ]; then find "$gens" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]+' -printf '%f\n' | sort -n; fi
}

# Removes secret files and the directories they leave empty.
remove_secrets() { # PATH...
  local path
  for path in "$@"; do
    rm -f -- "$path"
    rmdir --ignore-fail-on-non-empty "$(dirname "$path")" 2>/dev/null || true
  done
}

# Deletes network interfaces (bridges and their anchors) that exist.
remove_interfaces() { # NAME...
  local name
  for name in "$@"; do
    if ip link show dev "$name" >/dev/null 2>&1; then ip link del dev "$name" || true; fi
  done
}

# jq: the unit files a manifest installs under /etc/systemd/system (homefleet's own units).
OWN_UNITS='def own_units: [.files[].path | capture("^/etc/systemd/system/(?<u>[^/]+[.](service|timer))$").u];'


# What may be installed now besides GEN: the current generation, and during an unconfirmed or
# interrupted change also the confirmed one (each listed once, only when intact).
installed_besides() { # GEN
  local g
  for g in "$current" "$confirmed"; do
    if [ -n "$g" ] && [ "$g" != "$1" ] && intact "$g"; then echo "$g"; fi
  done | sort -u
}

prepare() {
  local gen=$1 dir=$gens/$1 partial=$gens/.$1.partial
  read_state
  if [ -e "$dir" ]; then
    echo "generation $gen exists already" >&2
    exit 1
  fi
  umask 077
  mkdir -p "$gens"
  # Leftovers of uploads that were cut off.
  find "$gens" -mindepth 1 -maxdepth 1 -name '.*.partial' -exec rm -rf {} +
  mkdir -p "$partial/files" "$partial/secrets"
  # Root-only inside, whatever the upload says: the generation holds secrets.
  tar --no-same-permissions -x -C "$partial" -f -
  if ! jq -e '.sha256 and .files' "$partial/manifest.json" >/dev/null 2>&1; then
    echo "the upload has no readable manifest.json" >&2
    exit 1
  fi
  local source=""
  if intact "$current"; then source=$gens/$current; fi
  # What the generation lists, the files the upload left out (links to the running generation,
  # made by one cp), then one sha256sum over everything: a handful of processes, not a few per file.
  local kind path mode sha owner sum
  local wanted=() absent=()
  declare -A want_sha=()
  for kind in files secrets; do
    local absent_here=()
    while IFS=$'\t' read -r path mode sha owner; do
      [ -n "$path" ] || continue
      wanted+=("$partial/$kind$path")
      want_sha["$partial/$kind$path"]=$sha
      if [ ! -e "$partial/$kind$path" ]; then
        if [ -n "$source" ] && [ -e "$source/$kind$path" ]; then
          absent_here+=("${path#/}")
        else
          echo "missing from the upload and from generation ${current:-none}: $path" >&2
          exit 1
        fi
      fi
    done < <(if [ "$kind" = files ]; then files_of "$partial/manifest.json"; else secrets_of "$partial/secrets.json"; fi)
    if [ "${#absent_here[@]}" -gt 0 ]; then
      (cd "$source/$kind" && cp --link --parents -t "$partial/$kind" -- "${absent_here[@]}")
      absent+=("${absent_here[@]}")
    fi
  done
  if [ "${#wanted[@]}" -gt 0 ]; then
    while read -r sum path; do
      if [ "$sum" != "${want_sha[$path]}" ]; then
        echo "sha256 mismatch for /${path#"$partial"/*/}: have $sum, the upload's list says ${want_sha[$path]}" >&2
        exit 1
      fi
      unset "want_sha[$path]"
    done < <(sha256sum -- "${wanted[@]}")
    if [ "${#want_sha[@]}" -gt 0 ]; then
      echo "could not hash: ${!want_sha[*]}" >&2
      exit 1
    fi
  fi
  mv "$partial" "$dir"
  echo "prepared generation $gen"
}

# Installs files from stdin lines "SOURCE<TAB>PATH<TAB>MODE<TAB>OWNER:GROUP<TAB>KIND", each
# through a temporary name and an atomic rename: two processes per file, install(1) creating
# the temporary file with its owner and mode, mv(1) renaming it. Missing parent directories are
# made first, in two calls: a secret's root's alone (0700), a file's the usual 0755.
install_files() {
  local rows=() row source path mode owner kind
  mapfile -t rows
  [ "${#rows[@]}" -gt 0 ] || return 0
  local file_dirs=() secret_dirs=()
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r source path mode owner kind <<<"$row"
    if [ "$kind" = secret ]; then secret_dirs+=("${path%/*}"); else file_dirs+=("${path%/*}"); fi
  done
  if [ "${#secret_dirs[@]}" -gt 0 ]; then (umask 077 && mkdir -p -- "${secret_dirs[@]}"); fi
  if [ "${#file_dirs[@]}" -gt 0 ]; then mkdir -p -- "${file_dirs[@]}"; fi
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r source path mode owner kind <<<"$row"
    install -m "$mode" -o "${owner%%:*}" -g "${owner#*:}" -T -- "$source" "$path.homefleet-new"
    mv -f -- "$path.homefleet-new" "$path"
  done
}

# What installing GEN over OLD... means, in one jq run: the flavour; the units that leave; every
# file and secret GEN has (path, mode, sha256, owner:group, the units that read it); the files,
# secrets and bridges the olds have and GEN has not; the units to keep disabled and to start.
plan_install() { # GEN OLD...
  local dir=$gens/$1 g
  shift
  local olds=() new_secrets=$dir/secrets.json
  for g in "$@"; do
    olds+=("$gens/$g/manifest.json")
    if [ -f "$gens/$g/secrets.json" ]; then olds+=("$gens/$g/secrets.json"); fi
  done
  [ -f "$new_secrets" ] || new_secrets=/dev/null
  jq -n -r --slurpfile new "$dir/manifest.json" --slurpfile newsec "$new_secrets" "$OWN_UNITS"'
    $new[0] as $m
    | (($newsec[0] // {}).secrets // []) as $s
    | [inputs | {file: input_filename, doc: .}] as $in
    | [$in[] | select(.file | endswith("/manifest.json")) | .doc] as $oldm
    | [$in[] | select(.file | endswith("/secrets.json")) | .doc] as $olds
    | "os\t\($m.os)",
      (if $m.os != "nixos" then [$oldm[] | (.start[]?), own_units[]] | unique - ([$m.start[]?] + [$m.units[]?]) | .[] | "leaving\t\(.)" else empty end),
      ($m.files[] | "file\t\(.path)\t\(.mode)\t\(.sha256)\t\(.owner // "root"):\(.group // "root")\t\((.restart // []) | join(" "))"),
      ($s[] | "secret\t\(.path)\t\(.mode)\t\(.sha256)\t\(.owner):\(.group)\t\((.restart // []) | join(" "))"),
      ([$oldm[] | .files[].path] | unique - [$m.files[].path] | .[] | "gone-file\t\(.)"),
      ([$olds[] | .secrets[].path] | unique - [$s[].path] | .[] | "gone-secret\t\(.)"),
      ([$oldm[] | .interfaces[]?] | unique - [$m.interfaces[]?] | .[] | "gone-iface\t\(.)"),
      ($m.disabledUnits[]? | "disabled\t\(.)"),
      ($m.start[]? | "start\t\(.)")' "${olds[@]}"
}

# Installs generation GEN over whatever is installed now (the generations OLD...): units that
# leave are stopped and disabled first (they may hold ports the new ones need), then every file
# and secret that differs on disk is installed, what GEN does not have is removed, and the units
# that read a change restart.
install_generation() { # GEN OLD...
  local gen=$1 dir=$gens/$1
  local plan
  plan=$(plan_install "$@")
  shift
  local os leaving=() gone_files=() gone_secrets=() gone_ifaces=() disabled=() start=()
  local kind path mode sha owner restart
  declare -A want=() restart_of=()
  local paths=() rows=()
  while IFS=$'\t' read -r kind path mode sha owner restart; do
    case $kind in
      os) os=$path ;;
      leaving) leaving+=("$path") ;;
      file | secret)
        paths+=("$path")
        rows+=("$kind"$'\t'"$path")
        want[$path]="$sha $mode $owner"
        restart_of[$path]=$restart
        ;;
      gone-file) gone_files+=("$path") ;;
      gone-secret) gone_secrets+=("$path") ;;
      gone-iface) gone_ifaces+=("$path") ;;
      disabled) disabled+=("$path") ;;
      start) start+=("$path") ;;
    esac
  done <<<"$plan"

  if [ "$os" != nixos ] && [ "${#leaving[@]}" -gt 0 ]; then
    echo "stopping: ${leaving[*]}"
    systemctl disable --now --no-reload "${leaving[@]}" 2>/dev/null || systemctl stop "${leaving[@]}" 2>/dev/null || true
  fi

  # Install only what differs on disk (content, mode or owner): a change, a hand edit, a
  # rollback. One sha256sum and one stat for all paths keep a switch fast.
  declare -A have_sha=() have_meta=()
  local sum rest
  if [ "${#paths[@]}" -gt 0 ]; then
    while read -r sum path; do have_sha[$path]=$sum; done < <(sha256sum -- "${paths[@]}" 2>/dev/null || true)
    while read -r path mode rest; do have_meta[$path]="$((8#$mode)) $rest"; done < <(stat -c '%n %a %U:%G' -- "${paths[@]}" 2>/dev/null || true)
  fi
  local installed=() changed_secrets=() copies=() row
  for row in "${rows[@]}"; do
    kind=${row%%$'\t'*} path=${row#*$'\t'}
    read -r sha mode owner <<<"${want[$path]}"
    if [ "${have_sha[$path]:-}" = "$sha" ] && [ "${have_meta[$path]:-}" = "$((8#$mode)) $owner" ]; then continue; fi
    if [ "$kind" = secret ]; then
      copies+=("$dir/secrets$path"$'\t'"$path"$'\t'"$mode"$'\t'"$owner"$'\t'secret)
      changed_secrets+=("$path")
    else
      copies+=("$dir/files$path"$'\t'"$path"$'\t'"$mode"$'\t'"$owner"$'\t'file)
      installed+=("$path")
    fi
  done
  if [ "${#copies[@]}" -gt 0 ]; then printf '%s\n' "${copies[@]}" | install_files; fi

  remove_secrets "${gone_secrets[@]}"
  remove_interfaces "${gone_ifaces[@]}"
  if [ "${#gone_files[@]}" -gt 0 ]; then rm -f -- "${gone_files[@]}"; fi

  # The units that read an installed file or secret restart (never a oneshot job: the manifest says which).
  local restart_units=()
  for path in "${installed[@]}" "${changed_secrets[@]}"; do
    # shellcheck disable=SC2206 # a space-separated list of unit names
    restart_units+=(${restart_of[$path]})
  done

  if [ "$os" = nixos ]; then
    # nixos-rebuild does what daemon-reload and the restarts do on a plain host, and more.
    nixos-rebuild switch
    echo "installed generation $gen"
    return 0
  fi

  local touched conf
  touched=$(printf '%s\n' "${installed[@]}" "${gone_files[@]}")
  if grep -qx '/etc/sysusers.d/homefleet.conf' <<<"$touched"; then systemd-sysusers /etc/sysusers.d/homefleet.conf; fi
  for conf in $(grep -x '/etc/tmpfiles.d/homefleet.*\.conf' <<<"$touched" || true); do
    if [ -f "$conf" ]; then systemd-tmpfiles --create "$conf"; fi
  done

  if [ "${#disabled[@]}" -gt 0 ]; then systemctl disable --now --no-reload "${disabled[@]}" 2>/dev/null || true; fi
  # Enable what is not enabled yet (also repairs a unit disabled by hand); one query for all.
  # is-enabled reads the unit files on disk, so it needs no reload first; enable --no-reload
  # leaves the one daemon-reload below to pick up files, enablement and removals together.
  local states=() enable=() i
  if [ "${#start[@]}" -gt 0 ]; then
    mapfile -t states < <(systemctl is-enabled "${start[@]}" 2>/dev/null || true)
    for i in "${!start[@]}"; do
      if [ "${states[$i]:-}" != enabled ]; then enable+=("${start[$i]}"); fi
    done
  fi
  if [ "${#enable[@]}" -gt 0 ]; then systemctl enable --no-reload --quiet "${enable[@]}"; fi
  if [ "$#" -eq 0 ] || [ "${#enable[@]}" -gt 0 ] || [ "${#leaving[@]}" -gt 0 ] || [ "${#disabled[@]}" -gt 0 ] || grep -q '^/etc/systemd/' <<<"$touched"; then
    systemctl daemon-reload
  fi

  # Restart what changed (one transaction, so systemd orders it), then start what is not running.
  # Jobs are queued, not waited for: a unit whose start hangs must not hang the switch or the
  # rollback; the deployer's health gate (or the revert timer) judges the outcome.
  local status=0 restart=() unit
  for unit in $(printf '%s\n' "${restart_units[@]}" | sort -u); do
    if systemctl cat "$unit" >/dev/null 2>&1; then restart+=("$unit"); fi
  done
  if [ "${#restart[@]}" -gt 0 ]; then
    echo "restarting: ${restart[*]}"
    systemctl reset-failed "${restart[@]}" 2>/dev/null || true
    systemctl restart --no-block "${restart[@]}" || status=$?
  fi
  if [ "${#start[@]}" -gt 0 ]; then
    systemctl reset-failed "${start[@]}" 2>/dev/null || true
    systemctl start --no-block "${start[@]}" || status=$?
  fi
  echo "installed generation $gen"
  return "$status"
}

# Stops and disables the units of the generations GEN..., removes their files, secrets and
# bridges: the host runs nothing of homefleet's afterwards. Data directories stay.
uninstall() { # GEN...
  local manifests=() g
  for g in "$@"; do if intact "$g"; then manifests+=("$gens/$g/manifest.json"); fi; done
  [ "${#manifests[@]}" -gt 0 ] || return 0
  local files=() secrets=() units=() start=() ifaces=()
  mapfile -t files < <(jq -r -n '[inputs | .files[].path] | unique | .[]' "${manifests[@]}")
  for g in "$@"; do
    if [ -f "$gens/$g/secrets.json" ]; then mapfile -t -O "${#secrets[@]}" secrets < <(jq -r '.secrets[].path' "$gens/$g/secrets.json"); fi
  done
  if [ "$(jq -r '.os' "${manifests[0]}")" = nixos ]; then
    if [ "${#files[@]}" -gt 0 ]; then rm -f -- "${files[@]}"; fi
    # configuration.nix imports ./homefleet: leave an empty module there, and switch without homefleet.
    mkdir -p /etc/nixos/homefleet
    find /etc/nixos/homefleet -mindepth 1 -depth -type d -empty -delete
    printf '%s\n' "# homefleet was removed from this host; this empty module keeps the import in configuration.nix working." "{ ... }:" "{" "}" >/etc/nixos/homefleet/default.nix
    nixos-rebuild switch
  else
    mapfile -t units < <(jq -r -n "$OWN_UNITS"'[inputs | own_units[]] | unique | .[]' "${manifests[@]}")
    mapfile -t start < <(jq -r -n '[inputs | .start[]?] | unique | .[]' "${manifests[@]}")
    mapfile -t ifaces < <(jq -r -n '[inputs | .interfaces[]?] | unique | .[]' "${manifests[@]}")
    if [ "${#units[@]}" -gt 0 ]; then systemctl disable --now "${units[@]}" 2>/dev/null || systemctl stop "${units[@]}" 2>/dev/null || true; fi
    if [ "${#start[@]}" -gt 0 ]; then systemctl stop "${start[@]}" 2>/dev/null || true; fi
    if [ "${#files[@]}" -gt 0 ]; then rm -f -- "${files[@]}"; fi
    remove_interfaces "${ifaces[@]}"
    local d
    # Directories only homefleet writes into: emptied ones go (others may belong to packages).
    for d in /etc/homefleet /usr/local/lib/homefleet; do
      if [ -d "$d" ]; then find "$d" -depth -type d -empty -delete; fi
    done
    systemctl daemon-reload
  fi
  remove_secrets "${secrets[@]}"
  echo "removed the units and files of generation(s) $*"
}

disarm() {
  systemctl stop "$timer.timer" 2>/dev/null || true
}

arm() { # GEN SECONDS
  systemctl stop "$timer.timer" "$timer.service" 2>/dev/null || true
  systemctl reset-failed "$timer.service" 2>/dev/null || true
  systemd-run --quiet --unit="$timer" --on-active="$2" --timer-property=AccuracySec=1s "$self" expire "$1"
  echo "armed: generation $1 goes back to ${confirmed:-nothing installed} in $2 s unless confirmed"
}

# The commands below run under the state lock.
do_switch() { # GEN ARM_SECONDS (0: a repair of the confirmed generation, no timer)
  local gen=$1 seconds=$2
  read_state
  if ! intact "$gen"; then
    echo "generation $gen does not exist or is damaged" >&2
    exit 1
  fi
  local olds=()
  mapfile -t olds < <(installed_besides "$gen")
  if [ "$seconds" -eq 0 ]; then
    if [ "$phase" != confirmed ] || [ "$current" != "$gen" ]; then
      echo "only the confirmed generation can be installed again without a revert timer (the host is $phase on ${current:-nothing})" >&2
      exit 1
    fi
    install_generation "$gen" "${olds[@]}"
    return
  fi
  arm "$gen" "$seconds"
  write_state switching "$gen" "$confirmed"
  # A failure here leaves the state at switching: a rollback (or the timer) takes the host back.
  install_generation "$gen" "${olds[@]}"
  write_state armed "$gen" "$confirmed"
  echo "switched to generation $gen"
}

do_confirm() { # GEN
  read_state
  if [ "$phase" = confirmed ] && [ "$current" = "$1" ]; then
    echo "generation $1 was confirmed already"
    return 0
  fi
  if [ "$phase" != armed ] || [ "$current" != "$1" ]; then
    echo "generation $1 cannot be confirmed: the host is $phase on generation ${current:-none} (confirmed: ${confirmed:-none}); its revert timer may have rolled it back" >&2
    exit "$EXIT_STALE"
  fi
  disarm
  write_state confirmed "$1" "$1"
  echo "confirmed generation $1"
}

do_rollback() { # GEN WHO
  read_state
  if [ "$current" != "$1" ] || [ "$phase" = confirmed ]; then
    echo "nothing to roll back: the host runs generation ${current:-none} ($phase)"
    return 0
  fi
  disarm
  finish_rollback "$2"
}

finish_rollback() { # WHO
  local failed=$current
  write_state rolling-back "$failed" "$confirmed"
  if [ -n "$confirmed" ]; then
    # A failure leaves the state at rolling-back: the next deployment's recover finishes it.
    install_generation "$confirmed" "$failed"
  else
    uninstall "$failed"
  fi
  write_state confirmed "$confirmed" "$confirmed"
  echo "rolled back ($1) from generation $failed to ${confirmed:-nothing installed}"
}

do_recover() {
  read_state
  find "$gens" -mindepth 1 -maxdepth 1 -name '.*.partial' -exec rm -rf {} + 2>/dev/null || true
  # Every path the current and the confirmed generation install, in one jq run (a damaged file
  # lists nothing): a deployment cut off mid-install leaves PATH.homefleet-new beside them.
  local args=() g path
  for g in "$current" "$confirmed"; do
    if [ -n "$g" ] && [ -f "$gens/$g/manifest.json" ]; then args+=(--rawfile "m$g" "$gens/$g/manifest.json"); fi
    if [ -n "$g" ] && [ -f "$gens/$g/secrets.json" ]; then args+=(--rawfile "s$g" "$gens/$g/secrets.json"); fi
  done
  while IFS= read -r path; do
    if [ -e "$path.homefleet-new" ]; then rm -f -- "$path.homefleet-new" && echo "removed leftover $path.homefleet-new"; fi
  done < <(jq -n -r "${args[@]}" '$ARGS.named | to_entries[] | (try (.value | fromjson) catch {}) | ((.files // []) + (.secrets // []))[] | .path? // empty' | sort -u)
  if [ "$phase" = rolling-back ]; then finish_rollback "an interrupted rollback, finished"; fi
}

do_remove() {
  read_state
  disarm
  local all=()
  # The current generation first (its manifest says which flavour the host is), then the newest.
  mapfile -t all < <( (echo "$current"; kept_generations | sort -rn) | sed '/^$/d' | awk '!seen[$0]++')
  uninstall "${all[@]}"
  rm -rf "$root/secrets" "$gens" "$root/current" "$root/previous" "$root/state" "$root/deploy.holder" "$self"
  echo "removed homefleet from this host"
}

do_gc() { # KEEP
  read_state
  local all=() remove gen
  mapfile -t all < <(kept_generations)
  remove=$((${#all[@]} - $1))
  for gen in "${all[@]}"; do
    [ "$remove" -gt 0 ] || break
    if [ "$gen" != "$current" ] && [ "$gen" != "$confirmed" ]; then
      rm -rf "${gens:?}/$gen"
      remove=$((remove - 1))
    fi
  done
}

# Runs this script's COMMAND under the state lock, its output through files: a cut connection
# (a closed pipe) must not stop a switch or a rollback halfway.
locked() { # COMMAND ARGS...
  local out err status=0
  (umask 077 && mkdir -p "$root")
  out=$(mktemp) err=$(mktemp)
  # Its own session: a timeout that stops the calling command's process group does not reach it.
  setsid --wait flock --wait 900 "$root/state.lock" "$self" --locked "$@" >"$out" 2>"$err" </dev/null || status=$?
  cat "$err" >&2 || true
  cat "$out" || true
  rm -f "$out" "$err"
  return "$status"
}

status_json() {
  read_state
  local list=() args=() g
  mapfile -t list < <(kept_generations)
  for g in "${list[@]}"; do
    if [ -f "$gens/$g/manifest.json" ]; then args+=(--rawfile "m$g" "$gens/$g/manifest.json"); fi
    if [ -f "$gens/$g/secrets.json" ]; then args+=(--rawfile "s$g" "$gens/$g/secrets.json"); fi
  done
  # Every kept generation in one jq run (a status must stay fast with many kept): a manifest or
  # secrets list that does not parse marks its generation damaged.
  local summary
  summary=$(jq -n -c --arg list "${list[*]}" --arg current "$current" "${args[@]}" '
    def parsed($k): $ARGS.named[$k] as $t | if $t == null then null else (try ($t | fromjson) catch "damaged") end;
    def entry($g): parsed("m" + $g) as $m | parsed("s" + $g) as $s
      | if ($m | type) != "object" or ($m.sha256 | not) or ($m.files | not) or $s == "damaged" or ($s != null and ($s | type) != "object") or (($s | type) == "object" and ($s.secrets | not))
        then "damaged" else {manifest: $m.sha256, secrets: (($s // {}).digest // "")} end;
    ($list | split(" ") | map(select(length > 0))) as $gens
    | ($gens | map({key: ., value: entry(.)}) | from_entries) as $kept
    | (($current != "") and (($kept[$current] | type) == "object")) as $readable
    | {kept: $kept,
       manifest: (if $readable then parsed("m" + $current) else null end),
       secretList: (if $readable then ((parsed("s" + $current) // {secrets: []}).secrets | map(.path)) else [] end)}')
  # The current generation's paths to hash and units to ask about, in one jq run.
  local paths=() units=() hashes="" active="" kind item
  while IFS=$'\t' read -r kind item; do
    if [ "$kind" = path ]; then paths+=("$item"); elif [ "$kind" = unit ]; then units+=("$item"); fi
  done < <(jq -r '(((.manifest.files // []) | map(.path)) + .secretList | .[] | "path\t\(.)"), ((.manifest.start // [])[] | "unit\t\(.)")' <<<"$summary")
  if [ "${#paths[@]}" -gt 0 ]; then hashes=$(sha256sum -- "${paths[@]}" 2>/dev/null || true); fi
  if [ "${#units[@]}" -gt 0 ]; then active=$(systemctl is-active -- "${units[@]}" 2>/dev/null || true); fi
  local armed=false holder=""
  if systemctl is-active --quiet "$timer.timer" 2>/dev/null; then armed=true; fi
  if [ -e "$root/deploy.lock" ] && ! flock -n "$root/deploy.lock" true 2>/dev/null; then holder=$(head -c 300 "$root/deploy.holder" 2>/dev/null || echo unknown); fi
  jq --arg hashes "$hashes" --arg units "${units[*]}" --arg active "$active" --arg phase "$phase" --arg current "$current" --arg confirmed "$confirmed" --argjson armed "$armed" --arg holder "$holder" '
    ($hashes | split("\n") | map(select(length > 0) | capture("^(?<h>[0-9a-f]{64})  (?<p>.*)$")) | map({key: .p, value: .h}) | from_entries) as $have
    | {phase: $phase,
       current: ($current | if . == "" then null else tonumber end),
       confirmed: ($confirmed | if . == "" then null else tonumber end),
       manifest: .manifest,
       files: ((.manifest.files // []) | map({key: .path, value: ($have[.path] // "missing")}) | from_entries),
       secrets: (.secretList | map({key: ., value: ($have[.] // "missing")}) | from_entries),
       units: (($units | split(" ") | map(select(length > 0))) as $u | ($active | split("\n")) as $s
         | [range(0; $u | length) | {key: $u[.], value: ($s[.] // "unknown")}] | from_entries),
       generations: .kept,
       armed: $armed,
       holder: (if $holder == "" then null else $holder end)}' <<<"$summary"
}

hold() { # HOLDER
  (umask 077 && mkdir -p "$root")
  exec 9>>"$root/deploy.lock"
  if ! flock -n 9; then
    echo "another deployment holds this host: $(head -c 300 "$root/deploy.holder" 2>/dev/null || echo "holder unknown")" >&2
    exit "$EXIT_HELD"
  fi
  printf '%s, since %s\n' "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$root/deploy.holder"
  echo held
  # The lease lasts while the deployer sends a line every few seconds: a deployer killed or cut
  # off (its connection silent, not even closed) frees the host within 30 s.
  while IFS= read -r -t 30 _; do :; done
  rm -f "$root/deploy.holder"
}

[ "$#" -ge 1 ] || usage
if [ "$1" = --locked ]; then
  shift
  # Finish even when the deployer's connection goes away.
  trap '' HUP PIPE
  case "$1" in
    switch) do_switch "$2" "$3" ;;
    confirm) do_confirm "$2" ;;
    rollback) do_rollback "$2" "the deployer's health gate failed" ;;
    expire) do_rollback "$2" "not confirmed in time: the revert timer" ;;
    recover) do_recover ;;
    remove) do_remove ;;
    gc) do_gc "$2" ;;
    *) usage ;;
  esac
  exit 0
fi

case "$1" in
  hold)
    [ "$#" -eq 2 ] || usage
    hold "$2"
    ;;
  prepare)
    [ "$#" -eq 2 ] || usage
    number "$2"
    prepare "$2"
    ;;
  switch)
    [ "$#" -eq 2 ] || [ "$#" -eq 3 ] || usage
    number "$2"
    number "${3:-0}"
    locked switch "$2" "${3:-0}"
    ;;
  confirm | rollback | expire | gc)
    [ "$#" -eq 2 ] || usage
    number "$2"
    locked "$1" "$2"
    ;;
  recover | remove)
    [ "$#" -eq 1 ] || usage
    locked "$1"
    ;;
  status)
    [ "$#" -eq 1 ] || usage
    status_json
    ;;
  *) usage ;;
esac
