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
# homefleet's addition to that host (language-nodejs/overlay/project_options.go): it reads the
# project's runtime options from Pulumi.yaml, which the 3.248 engine no longer passes as flags.
# These edits make the host's Run use them; the build stops if one no longer applies.
OVERLAY=$HERE/language-nodejs/overlay/project_options.go
OVERLAY_EDITS=(
  's/if host\.typescript {/if host.typescriptFor(req) {/'
  's/shlex\.Split(host\.nodeargs)/shlex.Split(host.nodeargsFor(req))/'
  's/if host\.tsconfigpath != "" {/if tsconfigpath := host.tsconfigpathFor(req); tsconfigpath != "" {/'
  's/"PULUMI_NODEJS_TSCONFIG_PATH="+host\.tsconfigpath/"PULUMI_NODEJS_TSCONFIG_PATH="+tsconfigpath/'
)

log() { printf 'pulumi-toolchain: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is needed to build the Pulumi CLI (go 1.25 or newer on PATH)"
GO_VERSION=$(go env GOVERSION)
GOOS_ARCH="$(go env GOOS)-$(go env GOARCH)"
CACHE_ROOT=${HOMEFLEET_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homefleet/toolchain}
OVERLAY_ID=$( (cat "$OVERLAY"; printf '%s\n' "${OVERLAY_EDITS[@]}") | sha256sum | cut -c1-8)
KEY="pulumi-$PULUMI_VERSION-nodejs-sdk-$LANGUAGE_HOST_SDK-overlay-$OVERLAY_ID-$GO_VERSION-$GOOS_ARCH"
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

build() { # NAME DIR PACKAGE LDFLAGS [TAGS]
  local name=$1 dir=$2 pkg=$3 ldflags=$4 tags=${5:-} start=$SECONDS
  log "building $name ($pkg) ..."
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local \
    go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$BIN.tmp/$name" "$pkg") >&2 ||
    die "building $name failed (module folder $dir)"
  log "built $name in $((SECONDS - start)) s ($(du -h "$BIN.tmp/$name" | cut -f1))"
}

# The host's package copied out of the read-only module cache into DIR (a module with the pins of
# language-nodejs/go.mod), with the overlay beside it and the edits applied.
overlaid_language_host() { # DIR
  local dir=$1 src edit
  src=$(cd "$HERE/language-nodejs" && go list -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs) ||
    die "the language host's sources are not in the module cache"
  mkdir -p "$dir/pulumi-language-nodejs"
  cp "$HERE/language-nodejs/go.mod" "$HERE/language-nodejs/go.sum" "$dir/"
  for file in "$src"/*.go; do
    case $file in *_test.go) ;; *) cp "$file" "$dir/pulumi-language-nodejs/" ;; esac
  done
  cp "$OVERLAY" "$dir/pulumi-language-nodejs/"
  chmod -R u+w "$dir"
  for edit in "${OVERLAY_EDITS[@]}"; do
    local before
    before=$(sha256sum "$dir/pulumi-language-nodejs/main.go")
    sed -i "$edit" "$dir/pulumi-language-nodejs/main.go"
    [ "$(sha256sum "$dir/pulumi-language-nodejs/main.go")" != "$before" ] || die "the edit $edit no longer applies to $src/main.go"
  done
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
  overlaid_language_host "$BIN.tmp/language-host-src"
  build pulumi-language-nodejs "$BIN.tmp/language-host-src" ./pulumi-language-nodejs \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGUAGE_HOST_SDK" homefleet_overlay
  rm -rf "$BIN.tmp/language-host-src"
  rm -rf "$BIN"
  mv "$BIN.tmp" "$BIN"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s with $GO_VERSION" >"$DEST/complete"
  log "toolchain ready in $((SECONDS - start)) s: $DEST ($(du -sh "$DEST" | cut -f1))"
fi
# The dynamic-provider host is a script of @pulumi/pulumi that resolves the package from the
# program's folder: the same for every checkout, refreshed on every call.
install -m 0755 "$DYNAMIC_PROVIDER" "$BIN/pulumi-resource-pulumi-nodejs"
echo "$BIN"
