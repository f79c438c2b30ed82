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
#   hold HOLDER [status [CURRENT MANIFEST_SHA [BYTES SECONDS WORK]]]
#                     take the deploy lock and keep it while stdin sends a line at least every
#                     30 s (the deployer's heartbeat); another deployment is refused, naming HOLDER.
#                     With status: first recover, then print the status (in parts, see
#                     do_begin), then "held". With an expectation as well (the deployer's guess,
#                     from its own records, of what the host runs: generation CURRENT, or - for
#                     nothing, with a manifest of MANIFEST_SHA), the next BYTES of stdin are an
#                     upload: when the host is confirmed on exactly that, shell WORK runs on it
#                     (stdin: the upload; at most SECONDS) before "held", and its exit status is
#                     printed; else the upload is read and dropped. One round trip for a deployment.
#                     With an expectation and no upload (the same manifest again), a host as
#                     expected reports from what prepare saved beside the generation, without jq.
#   prepare GEN       read a tar (manifest.json, files/ of the files that changed, secrets.json,
#                     secrets/ of the secrets that changed) from stdin; link every unchanged file
#                     and secret from the current generation; verify every sha256
#   switch GEN [ARM]  arm the revert timer for ARM seconds (unless GEN is a repair of the
#                     confirmed generation), then install GEN: stop and disable units that leave,
#                     install what differs, remove what GEN has not, restart what reads a change
#   confirm GEN [KEEP]  GEN passed its health gate: disarm, GEN becomes the confirmed generation
#                     (also when it is already); with KEEP, then gc KEEP; last, a line
#                     "now: PHASE CURRENT CONFIRMED"
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
# Layout: $root/generations/N/{manifest.json,files/...,secrets.json,secrets/...}, and what prepare
# worked out once, read by the shell later without jq: manifest.sha256, installs (every path N
# installs), plan-over-CURRENT-CONFIRMED (the switch to N over those generations).
set -euo pipefail
umask 022
# NixOS has no jq until homefleet's module adds it: borrow it from nixpkgs for the first switch.
if ! command -v jq >/dev/null 2>&1 && command -v nix-build >/dev/null 2>&1; then
  PATH="$(nix-build '<nixpkgs>' -A jq --no-out-link)/bin:$PATH"
fi

root=${HOMEFLEET_STATE_DIR:-/var/lib/homefleet}
gens=$root/generations
# The deployer and the revert timer call this script by its absolute path: no readlink process then.
if [[ $0 == /* && ! -L $0 ]]; then self=$0; else self=$(readlink -f "$0"); fi
timer=homefleet-confirm
# Exit statuses the deployer tells apart.
EXIT_HELD=75    # another deployment holds the deploy lock
EXIT_STATE=76   # the state file is damaged
EXIT_STALE=77   # confirm: the generation is no longer the one waiting for confirmation

usage() {
  echo "usage: $0 hold HOLDER [status [CURRENT MANIFEST_SHA [BYTES SECONDS WORK]]] | prepare GEN | switch GEN [ARM_SECONDS] | confirm GEN [KEEP] | rollback GEN | expire GEN | recover | remove | status | gc KEEP" >&2
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
    # read, not head: a builtin. Up to 200 bytes, trailing newlines dropped, as $(head -c 200) did.
    local line=""
    IFS= read -r -d '' -n 200 line <"$root/state" || true
    while [[ $line == *$'\n' ]]; do line=${line%$'\n'}; done
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
  # The links of an older homefleet: rm only when there are any.
  if [ -L "$root/current" ] || [ -L "$root/previous" ]; then rm -f "$root/current" "$root/previous"; fi
  phase=$1 current=$2 confirmed=$3
}

# A generation is usable when its manifest (and secrets list, if any) parse.
intact() { # GEN
  [ -n "$1" ] && jq -e '.sha256 and .files' "$gens/$1/manifest.json" >/dev/null 2>&1 &&
    { [ ! -e "$gens/$1/secrets.json" ] || jq -e '.secrets' "$gens/$1/secrets.json" >/dev/null 2>&1; }
}

# jq: a generation's manifest and secrets list, given to jq as --rawfile mGEN / sGEN: parsed,
# null when absent, "damaged" when they do not parse; and whether the generation is intact (as
# intact() says), so one jq run can judge many generations.
# shellcheck disable=SC2016 # jq's $variables, not the shell's
JQ_GENERATIONS='
  def parsed($k): $ARGS.named[$k] as $t | if $t == null then null else (try ($t | fromjson) catch "damaged") end;
  def whole($g): parsed("m" + $g) as $m | parsed("s" + $g) as $s
    | (($m | type) == "object" and ($m.sha256 and $m.files)) and ($s == null or (($s | type) == "object" and ($s.secrets | . != null and . != false)));'

# --rawfile arguments for jq: the manifest and secrets list of each generation GEN... that has them.
generation_files() { # GEN...
  local g
  jq_files=()
  for g in "$@"; do
    if [ -f "$gens/$g/manifest.json" ]; then jq_files+=(--rawfile "m$g" "$gens/$g/manifest.json"); fi
    if [ -f "$gens/$g/secrets.json" ]; then jq_files+=(--rawfile "s$g" "$gens/$g/secrets.json"); fi
  done
}



# Sets kept to the numbers of the kept generations, in ascending order: a glob and the keys of an
# indexed array (which bash lists in ascending order), no find or sort process.
kept_generations() {
  local dir name
  local -a seen=()
  for dir in "$gens"/[0-9]*/; do
    name=${dir%/}
    name=${name##*/}
    if [[ $name =~ ^(0|[1-9][0-9]{0,8})$ ]]; then seen[name]=1; fi
  done
  kept=("${!seen[@]}")
}

# Removes what uploads that were cut off left (glob, no find).
remove_partials() {
  local partial
  for partial in "$gens"/.*.partial; do
    if [ -e "$partial" ]; then rm -rf -- "$partial"; fi
  done
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



# The file in a generation that holds its plan over generations CURRENT and CONFIRMED (made by
# prepare). Generations never change once prepared and their numbers are never reused, so a
# saved plan stays right for that pair.
planned_over() { # CURRENT CONFIRMED
  echo "plan-over-${1:--}-${2:--}"
}

prepare() {
  local gen=$1 dir=$gens/$1 partial=$gens/.$1.partial
  read_state
  if [ -e "$dir" ]; then
    echo "generation $gen exists already" >&2
    exit 1
  fi
  umask 077
  # Leftovers of uploads that were cut off.
  remove_partials
  mkdir -p "$partial/files" "$partial/secrets"
  # Root-only inside, whatever the upload says: the generation holds secrets.
  tar --no-same-permissions -x -C "$partial" -f -
  if [ ! -f "$partial/manifest.json" ]; then
    echo "the upload has no readable manifest.json" >&2
    exit 1
  fi
  # One jq run: the upload's lists of files and secrets, and whether the running generation is
  # intact (then it is where the files the upload left out are linked from).
  # The same run plans the switch to this generation over the current and confirmed ones
  # (plan_install's plan, saved beside it for do_switch): one jq start fewer in a deployment.
  local jq_files=() list
  generation_files "$current" "$confirmed"
  jq_files+=(--rawfile mupload "$partial/manifest.json")
  if [ -f "$partial/secrets.json" ]; then jq_files+=(--rawfile supload "$partial/secrets.json"); fi
  list=$(jq -n -r --arg gen "$gen" --arg current "$current" --arg olds "$current $confirmed" "${jq_files[@]}" "$JQ_GENERATIONS$OWN_UNITS$JQ_INSTALL_PLAN"'
    parsed("mupload") as $m | parsed("supload") as $s
    | if ($m | type) != "object" or ($m.sha256 and $m.files | not) then "bad-manifest"
      elif $s != null and (($s | type) != "object" or ($s.secrets | type) != "array") then "bad-secrets"
      else (if $current != "" and whole($current) then "source" else empty end),
        ($m.files[] | ["files", .path, .sha256] | @tsv),
        (($s // {secrets: []}).secrets[] | ["secrets", .path, .sha256] | @tsv),
        (install_plan("upload"; $olds) | "plan\t\(.)"),
        "sha\t\($m.sha256)",
        "summary\t\({kept: {($gen): {manifest: $m.sha256, secrets: (($s // {}).digest // "")}}, manifest: $m, secretList: [(($s // {secrets: []}).secrets[].path)]} | tojson)",
        ($m.start[]? | "unit\t\(.)")
      end')
  case $list in
    bad-manifest)
      echo "the upload has no readable manifest.json" >&2
      exit 1
      ;;
    bad-secrets)
      echo "the upload's secrets.json does not parse" >&2
      exit 1
      ;;
  esac
  local source=""
  if [[ $list == source* ]]; then source=$gens/$current; fi
  # What the generation lists, the files the upload left out (links to the running generation,
  # made by one cp per kind), then one sha256sum over everything: a handful of processes, not a few per file.
  local kind path sha sum
  local wanted=() absent_files=() absent_secrets=()
  declare -A want_sha=()
  while IFS=$'\t' read -r kind path sha; do
    [ "$kind" = files ] || [ "$kind" = secrets ] || continue
    wanted+=("$partial/$kind$path")
    want_sha["$partial/$kind$path"]=$sha
    if [ ! -e "$partial/$kind$path" ]; then
      if [ -n "$source" ] && [ -e "$source/$kind$path" ]; then
        if [ "$kind" = files ]; then absent_files+=("${path#/}"); else absent_secrets+=("${path#/}"); fi
      else
        echo "missing from the upload and from generation ${current:-none}: $path" >&2
        exit 1
      fi
    fi
  done <<<"$list"
  if [ "${#absent_files[@]}" -gt 0 ]; then (cd "$source/files" && cp --link --parents -t "$partial/files" -- "${absent_files[@]}"); fi
  if [ "${#absent_secrets[@]}" -gt 0 ]; then (cd "$source/secrets" && cp --link --parents -t "$partial/secrets" -- "${absent_secrets[@]}"); fi
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
  # Beside the generation, for a later deployment's begin_as_expected: its manifest's sha256 and
  # every path it installs, in lines a shell reads without jq.
  local line plan_rows=() installs=() start_units=()
  while IFS= read -r line; do
    case $line in
      plan$'\t'*) plan_rows+=("${line#plan$'\t'}") ;;
      sha$'\t'*) printf '%s\n' "${line#sha$'\t'}" >"$partial/manifest.sha256" ;;
      summary$'\t'*) printf '%s\n' "${line#summary$'\t'}" >"$partial/summary.json" ;;
      unit$'\t'*) start_units+=("${line#unit$'\t'}") ;;
      files$'\t'* | secrets$'\t'*)
        line=${line#*$'\t'}
        installs+=("${line%%$'\t'*}")
        ;;
    esac
  done <<<"$list"
  printf '%s\n' "${installs[@]}" >"$partial/installs"
  printf '%s\n' "${start_units[@]}" >"$partial/start"
  if [ "${#plan_rows[@]}" -gt 0 ] && [ "${plan_rows[0]}" != damaged ]; then printf '%s\n' "${plan_rows[@]}" >"$partial/$(planned_over "$current" "$confirmed")"; fi
  mv "$partial" "$dir"
  echo "prepared generation $gen"
}

# Installs files from stdin lines "SOURCE<TAB>PATH<TAB>MODE<TAB>OWNER:GROUP<TAB>KIND". A file that
# exists is replaced through a temporary name and an atomic rename: install(1) creates the
# temporary file with its owner and mode, mv(1) renames it. A file that does not exist yet has
# nothing to replace and nothing reads it: one install -t per directory, mode and owner puts all
# such files in (the source has the target's name), so a first deployment takes a few processes,
# not two per file. A copy cut short there is found by the next switch (its sha256 differs).
# Missing parent directories are made first, in two calls: a secret's root's alone (0700), a
# file's the usual 0755.
install_files() {
  local rows=() row source path mode owner kind
  mapfile -t rows
  [ "${#rows[@]}" -gt 0 ] || return 0
  local file_dirs=() secret_dirs=() dir
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r source path mode owner kind <<<"$row"
    dir=${path%/*}
    if [ -d "$dir" ]; then continue; fi
    if [ "$kind" = secret ]; then secret_dirs+=("$dir"); else file_dirs+=("$dir"); fi
  done
  if [ "${#secret_dirs[@]}" -gt 0 ]; then (umask 077 && mkdir -p -- "${secret_dirs[@]}"); fi
  if [ "${#file_dirs[@]}" -gt 0 ]; then mkdir -p -- "${file_dirs[@]}"; fi
  declare -A new_files=()
  local group
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r source path mode owner kind <<<"$row"
    if [ -e "$path" ] || [ -L "$path" ] || [ "${source##*/}" != "${path##*/}" ]; then
      install -m "$mode" -o "${owner%%:*}" -g "${owner#*:}" -T -- "$source" "$path.homefleet-new"
      mv -f -- "$path.homefleet-new" "$path"
    else
      group=$mode$'\t'$owner$'\t'${path%/*}
      new_files[$group]+=$source$'\n'
    fi
  done
  local sources=()
  for group in "${!new_files[@]}"; do
    IFS=$'\t' read -r mode owner dir <<<"$group"
    mapfile -t sources <<<"${new_files[$group]%$'\n'}"
    install -m "$mode" -o "${owner%%:*}" -g "${owner#*:}" -t "$dir" -- "${sources[@]}"
  done
}

# What installing GEN over OLD... means, in one jq run that also judges every generation it reads:
# "damaged" alone when GEN is not intact; else the flavour; how many OLDs are intact (only those
# count: a damaged one is not installed); the units that leave; every
# file and secret GEN has (path, mode, sha256, owner:group, the units that read it); the files,
# secrets and bridges the olds have and GEN has not; the units to keep disabled and to start.
# shellcheck disable=SC2016 # jq's $variables, not the shell's
JQ_INSTALL_PLAN='
  def install_plan($gen; $olds):
    if whole($gen) | not then "damaged" else
      parsed("m" + $gen) as $m
      | ((parsed("s" + $gen) // {}).secrets // []) as $s
      | [$olds | split(" ")[] | select(length > 0 and . != $gen and whole(.))] as $oldgens
      | [$oldgens[] | parsed("m" + .)] as $oldm
      | [$oldgens[] | parsed("s" + .) | select(. != null)] as $olds
      | "os\t\($m.os)",
        "olds\t\($oldgens | length)",
        (if $m.os != "nixos" then [$oldm[] | (.start[]?), own_units[]] | unique - ([$m.start[]?] + [$m.units[]?]) | .[] | "leaving\t\(.)" else empty end),
        ($m.files[] | "file\t\(.path)\t\(.mode)\t\(.sha256)\t\(.owner // "root"):\(.group // "root")\t\((.restart // []) | join(" "))"),
        ($s[] | "secret\t\(.path)\t\(.mode)\t\(.sha256)\t\(.owner):\(.group)\t\((.restart // []) | join(" "))"),
        ([$oldm[] | .files[].path] | unique - [$m.files[].path] | .[] | "gone-file\t\(.)"),
        ([$olds[] | .secrets[].path] | unique - [$s[].path] | .[] | "gone-secret\t\(.)"),
        ([$oldm[] | .interfaces[]?] | unique - [$m.interfaces[]?] | .[] | "gone-iface\t\(.)"),
        ($m.disabledUnits[]? | "disabled\t\(.)"),
        ($m.start[]? | "start\t\(.)")
    end;'

plan_install() { # GEN OLD...
  local gen=$1 jq_files=()
  generation_files "$@"
  shift
  jq -n -r --arg gen "$gen" --arg olds "$*" "${jq_files[@]}" "$JQ_GENERATIONS$OWN_UNITS$JQ_INSTALL_PLAN"'install_plan($gen; $olds)'
}

# Installs generation GEN over whatever is installed now (the generations OLD...): units that
# leave are stopped and disabled first (they may hold ports the new ones need), then every file
# and secret that differs on disk is installed, what GEN does not have is removed, and the units
# that read a change restart.
install_generation() { # GEN OLD...
  local plan
  plan=$(plan_install "$@")
  if [ "$plan" = damaged ]; then
    echo "generation $1 does not exist or is damaged" >&2
    exit 1
  fi
  apply_plan "$1" "$plan"
}

# Carries out plan_install's PLAN for generation GEN.
apply_plan() { # GEN PLAN
  local gen=$1 dir=$gens/$1 plan=$2
  local os olds=0 leaving=() gone_files=() gone_secrets=() gone_ifaces=() disabled=() start=()
  local kind path mode sha owner restart
  declare -A want=() restart_of=()
  local paths=() rows=()
  while IFS=$'\t' read -r kind path mode sha owner restart; do
    case $kind in
      os) os=$path ;;
      olds) olds=$path ;;
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

  # What the installed and removed files ask for, matched by the shell (no grep per question).
  local reload="" tmpfiles=()
  for path in "${installed[@]}" "${gone_files[@]}"; do
    case $path in
      /etc/systemd/*) reload=1 ;;
      /etc/sysusers.d/homefleet.conf) systemd-sysusers /etc/sysusers.d/homefleet.conf ;;
      /etc/tmpfiles.d/homefleet*.conf) tmpfiles+=("$path") ;;
    esac
  done
  for path in "${tmpfiles[@]}"; do
    if [ -f "$path" ]; then systemd-tmpfiles --create "$path"; fi
  done

  if [ "${#disabled[@]}" -gt 0 ]; then systemctl disable --now --no-reload "${disabled[@]}" 2>/dev/null || true; fi
  # Enable what is not enabled yet (also repairs a unit disabled by hand); one query for all.
  # is-enabled reads the unit files on disk, so it needs no reload first; enable --no-reload
  # leaves the one daemon-reload below to pick up files, enablement and removals together.
  local states=() enable=() i
  if [ "${#start[@]}" -gt 0 ] && [ "$olds" -eq 0 ]; then
    # Nothing of homefleet's was installed: every unit is new here, and enabling one that is
    # enabled already changes nothing; no query.
    enable=("${start[@]}")
  elif [ "${#start[@]}" -gt 0 ]; then
    mapfile -t states < <(systemctl is-enabled "${start[@]}" 2>/dev/null || true)
    for i in "${!start[@]}"; do
      if [ "${states[$i]:-}" != enabled ]; then enable+=("${start[$i]}"); fi
    done
  fi
  if [ "${#enable[@]}" -gt 0 ]; then systemctl enable --no-reload --quiet "${enable[@]}"; fi
  if [ "$olds" -eq 0 ] || [ "${#enable[@]}" -gt 0 ] || [ "${#leaving[@]}" -gt 0 ] || [ "${#disabled[@]}" -gt 0 ] || [ -n "$reload" ]; then
    systemctl daemon-reload
  fi

  # Restart what changed (one transaction, so systemd orders it), then start what is not running.
  # Jobs are queued, not waited for: a unit whose start hangs must not hang the switch or the
  # rollback; the deployer's health gate (or the revert timer) judges the outcome.
  # One systemctl show answers for every unit at once: which exist (a unit to restart that does
  # not is left out) and which run already (starting those would change nothing).
  local restart=() run=() asked=() line unit n=0
  if [ "${#restart_units[@]}" -gt 0 ]; then mapfile -t restart_units < <(printf '%s\n' "${restart_units[@]}" | sort -u); fi
  asked=("${restart_units[@]}" "${start[@]}")
  declare -A load_of=() active_of=() restarting=()
  if [ "${#asked[@]}" -gt 0 ]; then
    # Blocks of KEY=VALUE lines, one block per unit in the order asked, a blank line between.
    while IFS= read -r line; do
      if [ "$n" -ge "${#asked[@]}" ]; then break; fi
      case $line in
        '') n=$((n + 1)) ;;
        LoadState=*) load_of[${asked[n]}]=${line#*=} ;;
        ActiveState=*) active_of[${asked[n]}]=${line#*=} ;;
      esac
    done < <(systemctl show --property=LoadState,ActiveState -- "${asked[@]}" 2>/dev/null || true)
  fi
  for unit in "${restart_units[@]}"; do
    if [ "${load_of[$unit]:-}" = loaded ]; then
      restart+=("$unit")
      restarting[$unit]=1
    fi
  done
  for unit in "${start[@]}"; do
    case ${restarting[$unit]:-}${active_of[$unit]:-} in
      1* | active | reloading) ;;
      *) run+=("$unit") ;;
    esac
  done
  local status=0
  # reset-failed also clears the start-rate counter: a unit that failed often may start again.
  if [ "${#restart[@]}" -gt 0 ] || [ "${#run[@]}" -gt 0 ]; then systemctl reset-failed "${restart[@]}" "${run[@]}" 2>/dev/null || true; fi
  if [ "${#restart[@]}" -gt 0 ]; then
    echo "restarting: ${restart[*]}"
    systemctl restart --no-block "${restart[@]}" || status=$?
  fi
  if [ "${#run[@]}" -gt 0 ]; then systemctl start --no-block "${run[@]}" || status=$?; fi
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
  # The timer's units are gone once a deployment confirmed or rolled back (transient units
  # unload when stopped): then systemd-run alone arms it. Units still loaded (an armed timer, a
  # failed expiry) are stopped and reset first, and it is tried again.
  if ! systemd-run --quiet --unit="$timer" --on-active="$2" --timer-property=AccuracySec=1s "$self" expire "$1" 2>/dev/null; then
    systemctl stop "$timer.timer" "$timer.service" 2>/dev/null || true
    systemctl reset-failed "$timer.service" 2>/dev/null || true
    systemd-run --quiet --unit="$timer" --on-active="$2" --timer-property=AccuracySec=1s "$self" expire "$1"
  fi
  echo "armed: generation $1 goes back to ${confirmed:-nothing installed} in $2 s unless confirmed"
}

# The commands below run under the state lock.
do_switch() { # GEN ARM_SECONDS (0: a repair of the confirmed generation, no timer)
  local gen=$1 seconds=$2 plan
  read_state
  if [ "$seconds" -eq 0 ]; then
    if [ "$phase" != confirmed ] || [ "$current" != "$gen" ]; then
      echo "only the confirmed generation can be installed again without a revert timer (the host is $phase on ${current:-nothing})" >&2
      exit 1
    fi
  fi
  # Planned (and GEN found intact) before anything changes, over what may be installed now
  # besides GEN: the current generation, and during an unconfirmed or interrupted change also
  # the confirmed one (the plan counts only intact ones).
  local saved
  saved=$gens/$gen/$(planned_over "$current" "$confirmed")
  if [ -f "$saved" ]; then
    plan=""
    IFS= read -r -d '' plan <"$saved" || true
    plan=${plan%$'\n'}
  else
    plan=$(plan_install "$gen" "$current" "$confirmed")
  fi
  if [ "$plan" = damaged ]; then
    echo "generation $gen does not exist or is damaged" >&2
    exit 1
  fi
  if [ "$seconds" -eq 0 ]; then
    apply_plan "$gen" "$plan"
    return
  fi
  arm "$gen" "$seconds"
  write_state switching "$gen" "$confirmed"
  # A failure here leaves the state at switching: a rollback (or the timer) takes the host back.
  apply_plan "$gen" "$plan"
  write_state armed "$gen" "$confirmed"
  echo "switched to generation $gen"
}

do_confirm() { # GEN [KEEP]
  read_state
  if [ "$phase" = confirmed ] && [ "$current" = "$1" ]; then
    echo "generation $1 was confirmed already"
  elif [ "$phase" != armed ] || [ "$current" != "$1" ]; then
    echo "generation $1 cannot be confirmed: the host is $phase on generation ${current:-none} (confirmed: ${confirmed:-none}); its revert timer may have rolled it back" >&2
    exit "$EXIT_STALE"
  else
    disarm
    write_state confirmed "$1" "$1"
    echo "confirmed generation $1"
  fi
  if [ -n "${2:-}" ]; then do_gc "$2"; fi
  # What the host runs now, for the deployer's report: no second status round trip.
  echo "now: $phase ${current:--} ${confirmed:--}"
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

# Removes PATH.homefleet-new beside each PATH: what an install cut off midway left.
remove_leftovers() { # PATH...
  local path
  for path in "$@"; do
    if [ -e "$path.homefleet-new" ]; then rm -f -- "$path.homefleet-new" && echo "removed leftover $path.homefleet-new"; fi
  done
}

# Leaves read_state and summarize's variables set for what the host runs afterwards.
do_recover() {
  read_state
  remove_partials
  # A deployment cut off mid-install leaves PATH.homefleet-new beside the paths the current or
  # the confirmed generation installs: summarize lists them (one jq run, shared with status).
  summarize
  remove_leftovers "${paths[@]}" "${others[@]}"
  if [ "$phase" = rolling-back ]; then
    finish_rollback "an interrupted rollback, finished"
    summarize
  fi
}

do_remove() {
  read_state
  disarm
  kept_generations
  # The current generation first (its manifest says which flavour the host is), then the newest.
  local all=() i
  if [ -n "$current" ]; then all+=("$current"); fi
  for ((i = ${#kept[@]} - 1; i >= 0; i--)); do
    if [ "${kept[i]}" != "$current" ]; then all+=("${kept[i]}"); fi
  done
  uninstall "${all[@]}"
  rm -rf "$root/secrets" "$gens" "$root/current" "$root/previous" "$root/state" "$root/deploy.holder" "$self"
  echo "removed homefleet from this host"
}

do_gc() { # KEEP
  read_state
  kept_generations
  local remove=$((${#kept[@]} - $1)) gen doomed=()
  for gen in "${kept[@]}"; do
    [ "$remove" -gt 0 ] || break
    if [ "$gen" != "$current" ] && [ "$gen" != "$confirmed" ]; then
      doomed+=("$gens/$gen")
      remove=$((remove - 1))
    fi
  done
  if [ "${#doomed[@]}" -gt 0 ]; then rm -rf -- "${doomed[@]}"; fi
}

# Runs this script's COMMAND under the state lock, its output through files: a cut connection
# (a closed pipe) must not stop a switch or a rollback halfway. The files are in the root-only
# state directory, named by this process's ID (no mktemp processes).
locked() { # COMMAND ARGS...
  local out=$root/.locked.$$.out err=$root/.locked.$$.err status=0
  if [ ! -d "$root" ]; then (umask 077 && mkdir -p "$root"); fi
  # Its own session: a timeout that stops the calling command's process group does not reach it.
  setsid --wait flock --wait 900 "$root/state.lock" "$self" --locked "$@" >"$out" 2>"$err" </dev/null || status=$?
  cat "$err" >&2 || true
  cat "$out" || true
  rm -f "$out" "$err"
  return "$status"
}

# One jq run over every kept generation. Sets summary (JSON: each kept generation's manifest
# and secrets digest or "damaged", the current manifest, the current secrets' paths), paths (the
# files and secrets the current generation installs), units (its units to start) and others
# (paths the current or confirmed generation lists besides those, damaged or not: for recover).
summarize() {
  local jq_files=() out kind item
  kept_generations
  paths=() units=() others=()
  if [ "${#kept[@]}" -eq 0 ] && [ -z "$current" ] && [ -z "$confirmed" ]; then
    # Nothing of homefleet's yet (a first deployment): nothing for jq to read.
    summary='{"kept":{},"manifest":null,"secretList":[]}'
    return 0
  fi
  generation_files "${kept[@]}"
  out=$(jq -n -r --arg list "${kept[*]}" --arg current "$current" --arg confirmed "$confirmed" "${jq_files[@]}" "$JQ_GENERATIONS"'
    def entry($g): parsed("m" + $g) as $m | parsed("s" + $g) as $s
      | if whole($g) then {manifest: $m.sha256, secrets: (($s // {}).digest // "")} else "damaged" end;
    def listed($g): [(parsed("m" + $g), parsed("s" + $g)) | objects | try (((.files // []) + (.secrets // []))[] | .path | strings) catch empty];
    ($list | split(" ") | map(select(length > 0))) as $gens
    | ($gens | map({key: ., value: entry(.)}) | from_entries) as $kept
    | (($current != "") and (($kept[$current] | type) == "object")) as $readable
    | (if $readable then parsed("m" + $current) else null end) as $manifest
    | (if $readable then ((parsed("s" + $current) // {secrets: []}).secrets | map(.path)) else [] end) as $secretList
    | ([($manifest.files // [])[].path] + $secretList) as $paths
    | ({kept: $kept, manifest: $manifest, secretList: $secretList} | tojson),
      ($paths[] | "path\t\(.)"),
      (($manifest.start // [])[] | "unit\t\(.)"),
      ((listed($current) + listed($confirmed)) - $paths | unique[] | "other\t\(.)")')
  # The summary is the first line: cut off by the shell, not read byte by byte.
  summary=${out%%$'\n'*}
  if [ "$out" = "$summary" ]; then return 0; fi
  while IFS=$'\t' read -r kind item; do
    case $kind in
      path) paths+=("$item") ;;
      unit) units+=("$item") ;;
      other) others+=("$item") ;;
    esac
  done <<<"${out#*$'\n'}"
}

# The status as JSON, from read_state's and summarize's variables: the hashes of the current
# generation's files and secrets (one sha256sum), its units' states and the revert timer's (one
# systemctl).
print_status() {
  local hashes="" active=() armed=false holder=""
  if [ "${#paths[@]}" -gt 0 ]; then hashes=$(sha256sum -- "${paths[@]}" 2>/dev/null || true); fi
  mapfile -t active < <(systemctl is-active -- "${units[@]}" "$timer.timer" 2>/dev/null || true)
  if [ "${active[${#units[@]}]:-}" = active ]; then armed=true; fi
  if [ -e "$root/deploy.lock" ] && ! flock -n "$root/deploy.lock" true 2>/dev/null; then holder=$(head -c 300 "$root/deploy.holder" 2>/dev/null || echo unknown); fi
  local states
  states=$(printf '%s\n' "${active[@]:0:${#units[@]}}")
  jq --arg hashes "$hashes" --arg units "${units[*]}" --arg active "$states" --arg phase "$phase" --arg current "$current" --arg confirmed "$confirmed" --argjson armed "$armed" --arg holder "$holder" '
    ($hashes | split("\n") | map(select(length > 0) | capture("^(?<h>[0-9a-f]{64})  (?<p>.*)$")) | map({key: .p, value: .h}) | from_entries) as $have
    | {phase: $phase,
       current: ($current | if . == "" then null else tonumber end),
       confirmed: ($confirmed | if . == "" then null else tonumber end),
       manifest: .manifest,
       files: ((.manifest.files // []) | map({key: .path, value: ($have[.path] // "missing")}) | from_entries),
       secrets: (.secretList | map({key: ., value: ($have[.] // "missing")}) | from_entries),
       units: (($units | split(" ") | map(select(length > 0))) as $u | ($active | split("\n")) as $s
         | [range(0; $u | length) | {key: $u[.], value: (($s[.] // "") | if . == "" then "unknown" else . end)}] | from_entries),
       generations: .kept,
       armed: $armed,
       holder: (if $holder == "" then null else $holder end)}' <<<"$summary"
}

status_json() {
  read_state
  summarize
  print_status
}

# Under the deploy lock: recover, then the status, in one process under the state lock. The
# deployer (deploy/deployHost.ts) assembles the status from its parts, sparing a second jq run:
# summarize's summary line; "state PHASE CURRENT CONFIRMED"; "holder HOLDER"; after "units:",
# systemctl is-active of the units to start and then of the revert timer; after "hashes:",
# sha256sum of the current generation's files and secrets.
do_begin() { # HOLDER [CURRENT MANIFEST_SHA [upload]]
  if [ "$#" -ge 3 ] && begin_as_expected "$2" "$3"; then
    if [ "$#" -eq 4 ]; then
      # The parts the deployer reads, with nothing it would use: it switches to its upload next.
      printf '%s\n' '{"kept":{},"manifest":null,"secretList":[]}' "state $phase ${current:--} ${confirmed:--}" "holder $1" "units:" "hashes:" "expected: yes"
      return 0
    fi
    if [ -f "$gens/$current/summary.json" ] && [ -f "$gens/$current/start" ]; then
      # The same manifest again: the report from what prepare saved beside the generation (its own
      # entry alone among the kept ones), the units' states and the installed files' hashes.
      local saved=""
      IFS= read -r -d '' saved <"$gens/$current/summary.json" || true
      mapfile -t units <"$gens/$current/start"
      printf '%s\n' "${saved%$'\n'}" "state $phase ${current:--} ${confirmed:--}" "holder $1" "units:"
      systemctl is-active -- "${units[@]}" "$timer.timer" 2>/dev/null || true
      echo "hashes:"
      if [ "${#paths[@]}" -gt 0 ]; then sha256sum -- "${paths[@]}" 2>/dev/null || true; fi
      echo "expected: yes"
      return 0
    fi
  fi
  do_recover >&2
  printf '%s\n' "$summary" "state $phase ${current:--} ${confirmed:--}" "holder $1" "units:"
  local as_expected=no
  if [ "$#" -ge 3 ] && expected "$2" "$3"; then as_expected=yes; fi
  # A host as the deployer expected is switched to the upload next: its units' states and files'
  # hashes would go unread (the confirmation reports the units' states).
  if [ "$#" -eq 4 ] && [ "$as_expected" = yes ]; then
    printf '%s\n' "hashes:" "expected: yes"
    return 0
  fi
  systemctl is-active -- "${units[@]}" "$timer.timer" 2>/dev/null || true
  echo "hashes:"
  if [ "${#paths[@]}" -gt 0 ]; then sha256sum -- "${paths[@]}" 2>/dev/null || true; fi
  if [ "$#" -ge 3 ]; then echo "expected: $as_expected"; fi
}

# do_recover and expected in one, without jq, for the usual case: the host is confirmed on
# generation CURRENT (a number) with a manifest of MANIFEST_SHA, keeps no later generation, and
# CURRENT has the lines prepare leaves beside it (older versions of this script left none: then
# the full recovery and check run). Confirmed on CURRENT means no rollback to finish and
# nothing installed but CURRENT's paths, beside which a cut install may have left a file.
begin_as_expected() { # CURRENT MANIFEST_SHA
  local sha=""
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  read_state
  kept_generations
  confirmed_latest "$1" || return 1
  [ -f "$gens/$current/installs" ] && [ -f "$gens/$current/manifest.sha256" ] || return 1
  IFS= read -r sha <"$gens/$current/manifest.sha256" || return 1
  [ "$sha" = "$2" ] || return 1
  remove_partials
  mapfile -t paths <"$gens/$current/installs"
  remove_leftovers "${paths[@]}" >&2
}

# Whether the host is confirmed on generation GEN (empty: nothing installed) and keeps no later
# one. From read_state's and kept_generations' variables.
confirmed_latest() { # GEN
  local gen
  [ "$phase" = confirmed ] && [ "$current" = "$1" ] && [ "$confirmed" = "$1" ] || return 1
  for gen in "${kept[@]}"; do
    if [ -z "$1" ] || [ "$gen" -gt "$1" ]; then return 1; fi
  done
}

# Whether the host is confirmed on generation CURRENT (- for nothing installed) with a manifest of
# MANIFEST_SHA, and keeps no generation above it: then the deployer's next generation, numbered
# CURRENT + 1 (or 1), goes over exactly what it planned from its records. From summarize's variables.
expected() { # CURRENT MANIFEST_SHA
  local gen_wanted=${1#-}
  confirmed_latest "$gen_wanted" || return 1
  [ -z "$gen_wanted" ] || [[ $summary == *"\"$gen_wanted\":{\"manifest\":\"$2\","* ]]
}

# The upload that came with the lock's command (BYTES of stdin), read whole into the root-only
# state directory first so that stdin is the heartbeat's again whatever WORK reads; WORK runs on it
# only when do_begin found the host as the deployer expected (BEGUN is its output). WORK does not
# get the deploy lock's descriptor: nothing it leaves running may hold the host. (Its switch and
# confirmation run in a session of their own, through locked: a cut connection stops neither.)
speculate() { # BYTES SECONDS WORK BEGUN
  local upload=$root/.upload.$$ status=0
  if [[ $4 != *$'\n'"expected: yes" ]]; then
    head -c "$1" >/dev/null
    return 0
  fi
  head -c "$1" >"$upload" || true
  echo "homefleet:work"
  if [ "$(stat -c %s "$upload")" != "$1" ]; then
    echo "the upload was cut short" >&2
    status=1
  else
    timeout --kill-after=10 "$2" bash -c "$3" <"$upload" 9>&- || status=$?
  fi
  rm -f "$upload"
  echo "homefleet:work-exit $status"
}

hold() { # HOLDER [status [CURRENT MANIFEST_SHA BYTES SECONDS WORK]]
  if [ ! -d "$root" ]; then (umask 077 && mkdir -p "$root"); fi
  exec 9>>"$root/deploy.lock"
  if ! flock -n 9; then
    echo "another deployment holds this host: $(head -c 300 "$root/deploy.holder" 2>/dev/null || echo "holder unknown")" >&2
    exit "$EXIT_HELD"
  fi
  local since status=0 begun
  TZ=UTC printf -v since '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  printf '%s, since %s\n' "$1" "$since" >"$root/deploy.holder"
  if [ "${2:-}" = status ]; then
    # The deployer's first round trip does it all: lock, recover, status.
    # With an upload (7 arguments) the status is brief: the host switches to it next.
    begun=$(locked begin "$1, since $since" "${@:3:2}" ${5:+upload}) || status=$?
    printf '%s\n' "$begun"
    if [ "$status" -ne 0 ]; then
      rm -f "$root/deploy.holder"
      exit "$status"
    fi
    if [ "$#" -eq 7 ]; then speculate "$5" "$6" "$7" "$begun"; fi
  fi
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
    confirm) do_confirm "$2" "${3:-}" ;;
    rollback) do_rollback "$2" "the deployer's health gate failed" ;;
    expire) do_rollback "$2" "not confirmed in time: the revert timer" ;;
    recover) do_recover ;;
    begin) do_begin "${@:2}" ;;
    remove) do_remove ;;
    gc) do_gc "$2" ;;
    *) usage ;;
  esac
  exit 0
fi

case "$1" in
  hold)
    if [ "$#" -ne 2 ] && { [ "$#" -ne 3 ] && [ "$#" -ne 5 ] && [ "$#" -ne 8 ] || [ "$3" != status ]; }; then usage; fi
    if [ "$#" -eq 8 ]; then number "$6" && number "$7"; fi
    hold "${@:2}"
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
  confirm)
    [ "$#" -eq 2 ] || [ "$#" -eq 3 ] || usage
    number "$2"
    number "${3:-0}"
    locked confirm "$2" "${3:-}"
    ;;
  rollback | expire | gc)
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
