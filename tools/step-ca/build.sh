#!/usr/bin/env bash
# Builds step-ca (Smallstep's private CA) from its Go module into a cache folder outside the
# repository, keyed by version, and reuses it when present. Debian does not package step-ca; the
# test suite runs the real CA to prove that homefleet's step-ca certificates (ordered through its
# ACME provisioner) are issued as rendered. Prints the folder holding `step-ca` on stdout (the
# last line); progress goes to stderr.
#
#   tools/step-ca/build.sh       build or reuse; prints the bin folder
#   npm run step-ca              the same
#
# Environment:
#   HOMEFLEET_TOOLCHAIN_CACHE   cache root (default: $XDG_CACHE_HOME or ~/.cache, then homefleet/toolchain)
set -euo pipefail

STEP_CA_VERSION=v0.30.2
MODULE=github.com/smallstep/certificates

log() { printf 'step-ca: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is needed to build step-ca (go 1.25 or newer on PATH)"
CACHE_ROOT=${HOMEFLEET_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homefleet/toolchain}
DEST=$CACHE_ROOT/step-ca-$STEP_CA_VERSION-$(go env GOVERSION)-$(go env GOOS)-$(go env GOARCH)
BIN=$DEST/bin

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.step-ca.lock"
flock 9 # one build at a time; a second caller waits and then reuses it
if [ -x "$BIN/step-ca" ] && [ -f "$DEST/complete" ]; then
  log "cached: $DEST"
else
  start=$SECONDS
  rm -rf "$BIN" "$DEST/complete"
  mkdir -p "$BIN"
  log "building $MODULE/cmd/step-ca@$STEP_CA_VERSION ..."
  # Without cgo: the YubiKey support needs libpcsclite, which a CA reading its key from a file does not.
  CGO_ENABLED=0 GOBIN=$BIN GOTOOLCHAIN=local go install -trimpath -ldflags "-s -w" "$MODULE/cmd/step-ca@$STEP_CA_VERSION" >&2 ||
    die "building step-ca failed"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s with $(go env GOVERSION)" >"$DEST/complete"
  log "step-ca ready in $((SECONDS - start)) s: $DEST"
fi
echo "$BIN"
