import type { ScriptSpec } from "./index";

/**
 * The host side of a deployment on plain systemd hosts. The deployer streams a generation in,
 * then asks for it to be switched to, checked, confirmed or rolled back. Every generation is a
 * complete, verified copy of homefleet's files, so rolling back is switching to another one.
 */
export const activateScript: ScriptSpec = {
  name: "homefleet-activate",
  nixRuntimeInputs: ["jq", "coreutils", "gnutar", "systemd"],
  text: `#!/bin/bash
# Host generations for homefleet on a plain systemd host.
#   prepare GEN       read a tar (manifest.json + files/ of the files that changed) from stdin;
#                     link every unchanged file from the current generation; verify every sha256
#   switch GEN        install GEN's files, remove files the previous generation had and GEN has
#                     not, then on a plain systemd host daemon-reload, restart only the units whose
#                     files changed and start the rest; on NixOS nixos-rebuild switch
#   rollback          switch back to the previous generation
#   arm SECONDS       roll back by itself in SECONDS unless confirmed (the deployer may be cut off)
#   confirm           disarm
#   status            JSON: current and previous generation, sha256 of every installed file,
#                     and the manifest sha256 of every kept generation
#   gc KEEP           delete all but the KEEP newest generations, never current or previous
# Layout: /var/lib/homefleet/generations/N/{manifest.json,files/...}, current and previous symlinks.
set -euo pipefail
umask 022
# NixOS has no jq until homefleet's module adds it: borrow it from nixpkgs for the first switch.
if ! command -v jq >/dev/null 2>&1 && command -v nix-build >/dev/null 2>&1; then
  PATH="$(nix-build '<nixpkgs>' -A jq --no-out-link)/bin:$PATH"
fi

root=\${HOMEFLEET_STATE_DIR:-/var/lib/homefleet}
gens=$root/generations
self=$(readlink -f "$0")

usage() {
  echo "usage: $0 prepare GEN | switch GEN | rollback | arm SECONDS | confirm | status | gc KEEP" >&2
  exit 2
}
[ "$#" -ge 1 ] || usage

number() {
  if ! [[ "$1" =~ ^[0-9]+$ ]]; then
    echo "not a generation number: $1" >&2
    exit 2
  fi
}

generation_of() {
  local link=$root/$1
  if [ -L "$link" ]; then basename "$(readlink "$link")"; fi
}

# manifest FILE: one line per file: PATH<TAB>MODE<TAB>SHA256<TAB>OWNER:GROUP
files_of() {
  jq -r '.files[] | [.path, .mode, .sha256, ((.owner // "root") + ":" + (.group // "root"))] | @tsv' "$1"
}

prepare() {
  local gen=$1 dir=$gens/$1 partial=$gens/.$1.partial current
  current=$(generation_of current)
  rm -rf "$partial"
  mkdir -p "$partial/files"
  tar -x -C "$partial" -f -
  [ -f "$partial/manifest.json" ] || { echo "no manifest.json in the upload" >&2; exit 1; }
  local path mode sha owner have
  while IFS=$'\\t' read -r path mode sha owner; do
    if [ ! -e "$partial/files$path" ]; then
      if [ -n "$current" ] && [ -e "$gens/$current/files$path" ]; then
        mkdir -p "$(dirname "$partial/files$path")"
        ln "$gens/$current/files$path" "$partial/files$path"
      else
        echo "missing from upload and from generation \${current:-none}: $path" >&2
        exit 1
      fi
    fi
    have=$(sha256sum "$partial/files$path" | cut -d' ' -f1)
    if [ "$have" != "$sha" ]; then
      echo "sha256 mismatch for $path: have $have, manifest says $sha" >&2
      exit 1
    fi
  done < <(files_of "$partial/manifest.json")
  rm -rf "$dir"
  mv "$partial" "$dir"
  echo "prepared generation $gen"
}

point_current() { # GEN OLD: current -> GEN, previous -> OLD (when it is another one), each atomically
  ln -sfn "generations/$1" "$root/current.new"
  mv -T "$root/current.new" "$root/current"
  if [ -n "$2" ] && [ "$2" != "$1" ]; then
    ln -sfn "generations/$2" "$root/previous.new"
    mv -T "$root/previous.new" "$root/previous"
  fi
}

switch_to() {
  local gen=$1 dir=$gens/$1 old old_manifest path mode sha owner tmp sum rest
  [ -f "$dir/manifest.json" ] || { echo "generation $gen does not exist" >&2; exit 1; }
  old=$(generation_of current)
  old_manifest=
  if [ -n "$old" ] && [ "$old" != "$gen" ]; then old_manifest=$gens/$old/manifest.json; fi

  # Install only what differs on disk (content, mode or owner): a changed file, a hand edit, a
  # rollback. One sha256sum and one stat for all files keep a switch fast.
  local paths=() installed=() removed=()
  mapfile -t paths < <(jq -r '.files[].path' "$dir/manifest.json")
  declare -A have_sha=() have_meta=()
  if [ "\${#paths[@]}" -gt 0 ]; then
    while read -r sum path; do have_sha[$path]=$sum; done < <(sha256sum -- "\${paths[@]}" 2>/dev/null || true)
    while read -r path mode rest; do have_meta[$path]="$((8#$mode)) $rest"; done < <(stat -c '%n %a %U:%G' -- "\${paths[@]}" 2>/dev/null || true)
  fi
  while IFS=$'\t' read -r path mode sha owner; do
    if [ "\${have_sha[$path]:-}" = "$sha" ] && [ "\${have_meta[$path]:-}" = "$((8#$mode)) $owner" ]; then continue; fi
    mkdir -p "$(dirname "$path")"
    tmp="$path.homefleet-new"
    cp "$dir/files$path" "$tmp"
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    mv -f "$tmp" "$path"
    installed+=("$path")
  done < <(files_of "$dir/manifest.json")
  if [ -n "$old_manifest" ]; then
    mapfile -t removed < <(jq -r --slurpfile new "$dir/manifest.json" '[.files[].path] - [$new[0].files[].path] | .[]' "$old_manifest")
    if [ "\${#removed[@]}" -gt 0 ]; then rm -f -- "\${removed[@]}"; fi
  fi

  # The units that read an installed file restart (never a oneshot job: the manifest says which).
  local changed=() restart
  if [ "\${#installed[@]}" -gt 0 ]; then
    mapfile -t changed < <(jq -r '[.files[] | select(.path as $p | $ARGS.positional | index($p)) | .restart[]?] | unique | .[]' "$dir/manifest.json" --args "\${installed[@]}")
  fi

  if [ "$(jq -r '.os' "$dir/manifest.json")" = nixos ]; then
    point_current "$gen" "$old"
    # nixos-rebuild does what daemon-reload and the restarts do on a plain host, and more.
    local status=0
    nixos-rebuild switch || status=$?
    echo "switched to generation $gen"
    return "$status"
  fi

  local touched
  touched=$(printf '%s\\n' "\${installed[@]}" "\${removed[@]}")
  if grep -qx '/etc/sysusers.d/homefleet.conf' <<<"$touched"; then systemd-sysusers /etc/sysusers.d/homefleet.conf; fi
  for conf in $(grep -x '/etc/tmpfiles.d/homefleet.*\.conf' <<<"$touched" || true); do
    if [ -f "$conf" ]; then systemd-tmpfiles --create "$conf"; fi
  done
  if [ -z "$old" ] || grep -q '^/etc/systemd/' <<<"$touched"; then systemctl daemon-reload; fi
  point_current "$gen" "$old"

  local disabled=() start=()
  mapfile -t disabled < <(jq -r '.disabledUnits[]?' "$dir/manifest.json")
  mapfile -t start < <(jq -r '.start[]?' "$dir/manifest.json")
  if [ "\${#disabled[@]}" -gt 0 ]; then systemctl disable --now "\${disabled[@]}" 2>/dev/null || true; fi
  # Enable what is not enabled yet (also repairs a unit disabled by hand); one query for all.
  local states=() enable=() i
  if [ "\${#start[@]}" -gt 0 ]; then
    mapfile -t states < <(systemctl is-enabled "\${start[@]}" 2>/dev/null || true)
    for i in "\${!start[@]}"; do
      if [ "\${states[$i]:-}" != enabled ]; then enable+=("\${start[$i]}"); fi
    done
  fi
  if [ "\${#enable[@]}" -gt 0 ]; then systemctl enable "\${enable[@]}" --quiet; fi

  local status=0
  # Restart what changed (one transaction, so systemd orders it), then start what is not running.
  # Jobs are queued, not waited for: a unit whose start hangs must not hang the switch or the
  # rollback; the deployer's health gate (or the confirm timer) judges the outcome.
  restart=()
  for unit in "\${changed[@]}"; do
    if systemctl cat "$unit" >/dev/null 2>&1; then restart+=("$unit"); fi
  done
  if [ "\${#restart[@]}" -gt 0 ]; then
    echo "restarting: \${restart[*]}"
    systemctl reset-failed "\${restart[@]}" 2>/dev/null || true
    systemctl restart --no-block "\${restart[@]}" || status=$?
  fi
  if [ "\${#start[@]}" -gt 0 ]; then
    systemctl reset-failed "\${start[@]}" 2>/dev/null || true
    systemctl start --no-block "\${start[@]}" || status=$?
  fi
  echo "switched to generation $gen"
  return "$status"
}

case "$1" in
  prepare)
    [ "$#" -eq 2 ] || usage
    number "$2"
    prepare "$2"
    ;;
  switch)
    [ "$#" -eq 2 ] || usage
    number "$2"
    switch_to "$2"
    ;;
  rollback)
    previous=$(generation_of previous)
    [ -n "$previous" ] || { echo "no previous generation to roll back to" >&2; exit 1; }
    current=$(generation_of current)
    switch_to "$previous"
    # The failed generation stays on disk for inspection; previous now points at it.
    echo "rolled back from generation $current to $previous"
    ;;
  arm)
    [ "$#" -eq 2 ] || usage
    number "$2"
    systemctl stop homefleet-confirm.timer homefleet-confirm.service 2>/dev/null || true
    systemctl reset-failed homefleet-confirm.service 2>/dev/null || true
    systemd-run --quiet --unit=homefleet-confirm --on-active="$2" --timer-property=AccuracySec=1s "$self" rollback
    echo "armed: rollback in $2 s unless confirmed"
    ;;
  confirm)
    systemctl stop homefleet-confirm.timer 2>/dev/null || true
    echo "confirmed generation $(generation_of current)"
    ;;
  status)
    current=$(generation_of current)
    previous=$(generation_of previous)
    files='{}'
    if [ -n "$current" ]; then
      mapfile -t paths < <(jq -r '.files[].path' "$gens/$current/manifest.json")
      declare -A have=()
      if [ "\${#paths[@]}" -gt 0 ]; then
        while read -r sum path; do have[$path]=$sum; done < <(sha256sum -- "\${paths[@]}" 2>/dev/null || true)
      fi
      files=$(for path in "\${paths[@]}"; do printf '%s\\t%s\\n' "$path" "\${have[$path]:-missing}"; done |
        jq -R -s 'split("\\n") | map(select(length > 0) | split("\\t") | {(.[0]): .[1]}) | add // {}')
    fi
    # Every kept generation's manifest hash: going back to an earlier config reuses its generation.
    kept='{}'
    if [ -d "$gens" ]; then
      kept=$(find "$gens" -mindepth 2 -maxdepth 2 -name manifest.json -path "$gens/[0-9]*" -print0 |
        xargs -0 -r jq -n '[inputs | {key: (input_filename | split("/") | .[-2]), value: .sha256}] | from_entries')
    fi
    [ -n "$kept" ] || kept='{}'
    # An armed revert timer: the current generation was switched to but never confirmed.
    armed=false
    if systemctl is-active --quiet homefleet-confirm.timer 2>/dev/null; then armed=true; fi
    jq -n --arg current "$current" --arg previous "$previous" --argjson files "$files" --argjson kept "$kept" --argjson armed "$armed" \\
      '{current: ($current | if . == "" then null else tonumber end), previous: ($previous | if . == "" then null else tonumber end), files: $files, generations: $kept, armed: $armed}'
    ;;
  gc)
    [ "$#" -eq 2 ] || usage
    number "$2"
    current=$(generation_of current)
    previous=$(generation_of previous)
    mapfile -t all < <(find "$gens" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]+' -printf '%f\\n' | sort -n)
    remove=$((\${#all[@]} - $2))
    for gen in "\${all[@]}"; do
      [ "$remove" -gt 0 ] || break
      if [ "$gen" != "$current" ] && [ "$gen" != "$previous" ]; then
        rm -rf "\${gens:?}/$gen"
        remove=$((remove - 1))
      fi
    done
    ;;
  *) usage ;;
esac
`,
};
