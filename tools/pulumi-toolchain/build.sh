#!/usr/bin/env bash
# Builds the Pulumi CLI and the Node.js language host from Go modules (no download of release
# binaries), into a cache folder outside the repository keyed by the versions, and reuses it when
# present. Prints the folder to put on PATH on stdout (the last line); progress goes to stderr.
#
#   tools/pulumi-toolchain/build.sh          build or reuse; prints the bin folder
#   npm run toolchain                        the same
#
# Environment:
#   HOMEFLEET_TOOLCHAIN_CACHE   cache root (default: $XDG_CACHE_HOME or ~/.cache, then homefleet/toolchain)
#
# The folder holds `pulumi` (CLI and engine, v3.248.0 like @pulumi/pulumi), `pulumi-language-nodejs`
# and `pulumi-resource-pulumi-nodejs` (the dynamic-provider host shipped in @pulumi/pulumi). The CLI
# finds the last two beside itself. See docs/pulumi-toolchain.md.
set -euo pipefail

PULUMI_VERSION=v3.248.0
# The Node.js language host's own module is not served by the Go module proxy; sdk/v3 v3.68.0 is
# the newest served release that still contains it (see language-nodejs/tools.go).
LANGUAGE_HOST_SDK=v3.68.0
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

log() { printf 'pulumi-toolchain: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is needed to build the Pulumi CLI (go 1.25 or newer on PATH)"
GO_VERSION=$(go env GOVERSION)
GOOS_ARCH="$(go env GOOS)-$(go env GOARCH)"
CACHE_ROOT=${HOMEFLEET_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homefleet/toolchain}
KEY="pulumi-$PULUMI_VERSION-nodejs-sdk-$LANGUAGE_HOST_SDK-$GO_VERSION-$GOOS_ARCH"
DEST=$CACHE_ROOT/$KEY
BIN=$DEST/bin

DYNAMIC_PROVIDER=$ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs
[ -f "$DYNAMIC_PROVIDER" ] || die "$DYNAMIC_PROVIDER is missing: run npm ci first"

complete() {
  [ -x "$BIN/pulumi" ] && [ -x "$BIN/pulumi-language-nodejs" ] && [ -f "$DEST/complete" ] &&
    [ "$("$BIN/pulumi" version 2>/dev/null)" = "$PULUMI_VERSION" ]
}

# Asks the module proxy for MODULE@VERSION first, so that a missing module is named plainly rather
# than buried in a build log.
need_module() { # DIR MODULE VERSION
  local out
  if ! out=$(cd "$1" && go mod download -json "$2@$3" 2>&1); then
    die "the Go module proxy ($(go env GOPROXY)) does not serve $2@$3:
$out"
  fi
}

build() { # NAME DIR PACKAGE LDFLAGS
  local name=$1 dir=$2 pkg=$3 ldflags=$4 start=$SECONDS
  log "building $name ($pkg) ..."
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local \
    go build -trimpath -ldflags "-s -w $ldflags" -o "$BIN.tmp/$name" "$pkg") >&2 ||
    die "building $name failed (module folder $dir)"
  log "built $name in $((SECONDS - start)) s ($(du -h "$BIN.tmp/$name" | cut -f1))"
}

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9 # one build at a time; a second caller waits and then reuses it
if complete; then
  log "cached: $DEST"
else
  start=$SECONDS
  rm -rf "$BIN.tmp" "$DEST/complete"
  mkdir -p "$BIN.tmp"
  need_module "$HERE/cli" github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
  need_module "$HERE/cli" github.com/pulumi/pulumi/sdk/v3 "$PULUMI_VERSION"
  need_module "$HERE/language-nodejs" github.com/pulumi/pulumi/sdk/v3 "$LANGUAGE_HOST_SDK"
  build pulumi "$HERE/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  build pulumi-language-nodejs "$HERE/language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGUAGE_HOST_SDK"
  rm -rf "$BIN"
  mv "$BIN.tmp" "$BIN"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s with $GO_VERSION" >"$DEST/complete"
  log "toolchain ready in $((SECONDS - start)) s: $DEST ($(du -sh "$DEST" | cut -f1))"
fi
# The dynamic-provider host is a script of @pulumi/pulumi that resolves the package from the
# program's folder: the same for every checkout, refreshed on every call.
install -m 0755 "$DYNAMIC_PROVIDER" "$BIN/pulumi-resource-pulumi-nodejs"
echo "$BIN"
