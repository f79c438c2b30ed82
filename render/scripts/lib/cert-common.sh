# shellcheck shell=bash
# Shared part of homefleet-cert-acme and homefleet-cert-check: name validation, atomic textfile
# writes, certificate install and reload. Not a script of its own and never installed:
# render/scripts/activate.ts (hostScriptText) puts this file's text, without this leading
# comment block, in place of the two lines that source it, so every installed script is one
# self-contained file. Run from the repository, the including script sources it for real and
# behaves the same.

name_re='^[a-z0-9_-]+$'
# check_name NAME: metric label value and file name; exits 2 when unusable.
check_name() {
  if ! [[ $1 =~ $name_re ]] || [[ $1 == renewal_* ]]; then
    echo "certificate name must match $name_re and not start with renewal_: $1" >&2
    exit 2
  fi
}

textfile_dir=${HOMEFLEET_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
# write_prom FILE: stdin to TEXTFILE_DIR/FILE through a temp file the collector ignores.
write_prom() {
  local tmp
  mkdir -p "$textfile_dir"
  tmp=$(mktemp "$textfile_dir/.$1.XXXXXX")
  cat >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$textfile_dir/$1"
}
