#!/usr/bin/env bash
# Real Debian test hosts for homefleet's end-to-end deployment tests (plain-systemd flavour).
# Used by `npm run test:e2e` (and so by .ci/run). Needs root, debootstrap, systemd-container (systemd-nspawn),
# iproute2, openssh-client, util-linux. See e2e/README.md.
#
#   testhosts.sh rootfs [ARCH]      build the shared Debian bookworm rootfs once (cached)
#   testhosts.sh standin-image [ARCH]  re-import the stand-in proxy image into the cached rootfs
#   testhosts.sh up NAME INDEX [ARCH]  boot host NAME as 10.231.INDEX.2 (the machine side is .1)
#   testhosts.sh emulator [ARCH]    register qemu-user for ARCH with binfmt_misc (rootfs and up do)
#   testhosts.sh down NAME          stop host NAME
#   testhosts.sh down-all           stop every host of the state directory (HOMEFLEET_E2E_STATE)
#   testhosts.sh list               running hosts, one line each
#   testhosts.sh ssh NAME [CMD...]  ssh into host NAME as root
#   testhosts.sh selftest NAME      prove the stand-in image gates on PostgreSQL and Redis
#
# ARCH is a Debian architecture, amd64 or arm64, and defaults to the machine's own. A foreign
# architecture runs under qemu-user emulation (package qemu-user-static): its hosts boot and run
# the same units, much slower.
#
# IP plan: host INDEX (1-254) gets its own network namespace (systemd-nspawn --network-veth),
# 10.231.INDEX.0/24 on its veth pair: the container's host0 is 10.231.INDEX.2, the machine's
# ve-NAME is 10.231.INDEX.1. No default route is set inside a host: a host reaches the machine
# only, and traffic to anywhere else has no route. The machine gets `unreachable 10.231.0.0/16`,
# so traffic to a host that is down goes nowhere either.
set -euo pipefail

CACHE=${HOMEFLEET_E2E_CACHE:-/var/cache/homefleet-e2e}
NATIVE_ARCH=$(dpkg --print-architecture)
ARCH=$NATIVE_ARCH
ROOTFS=$CACHE/rootfs # set_arch: rootfs for amd64 (as before arm64 came), rootfs-arm64 for arm64
BUILD_LOG=$CACHE/debootstrap.log
DEBS=$CACHE/debs
HOSTS=${HOMEFLEET_E2E_STATE:-$CACHE/hosts} # per-host state; give each test run its own to share the rootfs
KEY=$CACHE/id_ed25519
MIRROR=${HOMEFLEET_E2E_MIRROR:-http://deb.debian.org/debian}
BOOT_TIMEOUT=${HOMEFLEET_E2E_BOOT_TIMEOUT:-90}
STOP_TIMEOUT=${HOMEFLEET_E2E_STOP_TIMEOUT:-30}
SUBNET_PREFIX=10.231
STANDIN_IMAGE=localhost/homefleet-standin:1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# What the rendered Debian units and scripts need (the manifest's `packages` for a systemd host,
# see `npx homefleet render`), plus what the test harness needs on the host.
PACKAGES=(
  # boot and access
  systemd systemd-sysv dbus libnss-myhostname openssh-server iproute2 procps ca-certificates curl openssl
  # services
  redis-server redis-tools postgresql postgresql-15 postgresql-client
  # containers: podman 4.3 with netavark (bridge + port publishing through iptables)
  podman crun runc conmon netavark aardvark-dns iptables busybox-static
  # exporters and Prometheus (promtool)
  prometheus prometheus-node-exporter prometheus-postgres-exporter prometheus-redis-exporter
  prometheus-blackbox-exporter
  # backup and certificates
  restic lego
  # homefleet-activate (the deployer's host side)
  jq
)

# Installed by apt inside the new root after debootstrap, which cannot resolve their virtual
# dependencies (nix-bin needs perl-dbdabi-94 through libdbd-sqlite3-perl: a fresh build failed so).
# amd64 only: the NixOS flavour's tests run on amd64 hosts, and under emulation nix-bin's
# installation would only slow the arm64 build.
LATE_PACKAGES=(
  # nix-instantiate, for the NixOS flavour's stand-in nixos-rebuild (e2e/standin/nixos-rebuild)
  nix-bin
)

# Units Debian enables on install that the deployer manages itself (or that only slow a boot):
# PostgreSQL and Redis stay installed but do not start at boot.
DISABLED_UNITS=(
  redis-server.service postgresql.service
  prometheus.service prometheus-node-exporter.service prometheus-postgres-exporter.service
  prometheus-redis-exporter.service prometheus-blackbox-exporter.service
  prometheus-node-exporter-apt.timer prometheus-node-exporter-ipmitool-sensor.timer
  prometheus-node-exporter-mellanox-hca-temp.timer prometheus-node-exporter-nvme.timer
  prometheus-node-exporter-smartmon.timer
  apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer
  man-db.timer logrotate.timer e2scrub_reap.service
  podman.service podman-auto-update.service podman-auto-update.timer podman-restart.service
)

log() { printf '%s\n' "testhosts: $*" >&2; }
die() { log "$*"; exit 1; }

# Selects the architecture whose rootfs the command works on.
set_arch() { # ARCH
  case $1 in
    amd64) ROOTFS=$CACHE/rootfs BUILD_LOG=$CACHE/debootstrap.log DEBS=$CACHE/debs ;;
    arm64) ROOTFS=$CACHE/rootfs-arm64 BUILD_LOG=$CACHE/debootstrap-arm64.log DEBS=$CACHE/debs-arm64 ;;
    *) die "ARCH must be amd64 or arm64: $1" ;;
  esac
  ARCH=$1
  if [ "$ARCH" != amd64 ]; then LATE_PACKAGES=(); fi
}

# The kernel runs a foreign architecture's binaries through qemu-user once its binfmt_misc handler
# is registered. Debian's qemu-user-static ships the handler line with the F flag: the kernel opens
# the interpreter at registration, so it also runs inside a container's root, which has no qemu.
cmd_emulator() { # [ARCH]
  need_root
  set_arch "${1:-$ARCH}"
  [ "$ARCH" != "$NATIVE_ARCH" ] || return 0
  local qarch handler conf=
  case $ARCH in arm64) qarch=aarch64 ;; amd64) qarch=x86_64 ;; esac
  handler=/proc/sys/fs/binfmt_misc/qemu-$qarch
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
  fi
  if [ ! -e "$handler" ]; then
    conf=/usr/lib/binfmt.d/qemu-$qarch.conf
    [ -f "$conf" ] || die "no emulator for $ARCH: apt-get install -y qemu-user-static"
    # A concurrent registration makes this write fail with 'File exists': the check below decides.
    grep -v '^#' "$conf" >/proc/sys/fs/binfmt_misc/register 2>/dev/null || true
  fi
  [ -e "$handler" ] || die "registering $conf with binfmt_misc failed"
  grep -qx enabled "$handler" || die "$handler is disabled"
  grep -q '^flags: .*F' "$handler" || die "$handler lacks the F flag: $ARCH binaries cannot run inside a container"
}

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
}

need_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "missing $t (apt-get install -y debootstrap systemd-container iproute2 openssh-client)"
  done
}

# Runs a command inside DIR without booting it (shares the machine's network: apt may download).
in_root() { # DIR CMD...
  local dir=$1 rc=0
  shift
  systemd-nspawn --quiet --register=no --keep-unit --console=pipe --link-journal=no \
    --resolv-conf=copy-host --timezone=off -D "$dir" -- "$@" || rc=$?
  forget_propagate_dir "$(basename "$dir")"
  return "$rc"
}

# nspawn leaves /run/systemd/nspawn/propagate/MACHINE behind when /run is no tmpfs (it says
# 'Attempted to remove disk file system ... and we can't allow that'); it is empty then.
forget_propagate_dir() { # MACHINE
  rmdir "/run/systemd/nspawn/propagate/$1/incoming" "/run/systemd/nspawn/propagate/$1" 2>/dev/null || true
}

# --- rootfs --------------------------------------------------------------------------------------

build_standin_tree() { # ROOTFS TREE: the stand-in image's files, busybox from the rootfs
  local root=$1 tree=$2 applet
  mkdir -p "$tree/bin" "$tree/standin" "$tree/tmp" "$tree/etc" "$tree/app"
  chmod 1777 "$tree/tmp"
  cp "$root/bin/busybox" "$tree/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$tree/bin/$applet"
  done
  install -m 0755 "$HERE/standin/entrypoint" "$HERE/standin/handler" "$tree/standin/"
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tree/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$tree/etc/group"
  cat >"$tree/standin/README" <<'EOF'
homefleet-standin: a STAND-IN for the LiteLLM proxy image in homefleet's end-to-end tests.
It serves no model. /health/readiness answers 200 only while PostgreSQL and Redis answer.
EOF
}

# Imports the stand-in for the LiteLLM proxy image into DIR's podman storage (replacing it).
import_standin() { # DIR
  local root=$1 tree=$1/root/homefleet-standin # not /tmp: nspawn mounts a tmpfs there
  log "importing $STANDIN_IMAGE"
  rm -rf "$tree"
  build_standin_tree "$root" "$tree"
  in_root "$root" /bin/bash -c "set -euo pipefail
    podman rmi --force --ignore $STANDIN_IMAGE >/dev/null
    tar -C /root/homefleet-standin -c . | podman import \
      --change 'ENTRYPOINT [\"/standin/entrypoint\"]' --change 'CMD [\"--port\", \"4000\"]' \
      --change 'EXPOSE 4000' --change 'STOPSIGNAL TERM' \
      --change 'LABEL org.opencontainers.image.title=homefleet-standin' \
      --change 'LABEL org.opencontainers.image.description=Stand-in for the LiteLLM proxy image in homefleet e2e tests, not LiteLLM' \
      --message 'homefleet-standin: stand-in for the LiteLLM proxy image (e2e tests only)' \
      - $STANDIN_IMAGE >/dev/null
    podman image exists $STANDIN_IMAGE" >>"$BUILD_LOG" 2>&1 ||
    die "podman import failed, see $BUILD_LOG"
  rm -rf "$tree"
}

# Re-imports the stand-in image into the cached rootfs (after a change to e2e/standin/).
cmd_standin_image() { # [ARCH]
  need_root
  set_arch "${1:-$ARCH}"
  [ -f "$ROOTFS/etc/homefleet-e2e/complete" ] || die "no rootfs: run rootfs first"
  if [ -n "$(cmd_list)" ]; then die "stop the running hosts first (down-all): they share the rootfs"; fi
  import_standin "$ROOTFS"
  log "$STANDIN_IMAGE re-imported into $ROOTFS"
}

cmd_rootfs() { # [ARCH]
  need_root
  set_arch "${1:-$ARCH}"
  cmd_emulator
  if [ -f "$ROOTFS/etc/homefleet-e2e/complete" ]; then
    log "rootfs cached: $ROOTFS ($(cat "$ROOTFS/etc/homefleet-e2e/complete"))"
    add_missing_packages
    return 0
  fi
  need_tools debootstrap systemd-nspawn ssh-keygen flock
  mkdir -p "$CACHE"
  # One build at a time. The lock's fd is open only inside this group, so that no host booted
  # later (systemd-nspawn inherits open fds) holds it.
  {
    flock 9
    if [ -f "$ROOTFS/etc/homefleet-e2e/complete" ]; then
      log "rootfs built meanwhile: $ROOTFS"
    else
      build_rootfs
    fi
  } 9>"$CACHE/.${ROOTFS##*/}.lock"
}

# A cached rootfs from before a package was added to PACKAGES gets it installed, not rebuilt.
add_missing_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}" "${LATE_PACKAGES[@]}"; do
    grep -q "^$p " "$ROOTFS/etc/homefleet-e2e/packages" || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  # Every host of every state directory boots from this rootfs as its lower layer.
  if pgrep -f "systemd-nspawn .*-D $ROOTFS " >/dev/null; then
    die "the cached rootfs lacks ${missing[*]}: stop every test host, then run again"
  fi
  log "installing into the cached rootfs: ${missing[*]}"
  printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
  chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"
  in_root "$ROOTFS" /bin/sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends ${missing[*]} && apt-get clean" >>"$BUILD_LOG" 2>&1 ||
    die "installing ${missing[*]} failed, see $BUILD_LOG"
  rm -f "$ROOTFS/usr/sbin/policy-rc.d"
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  in_root "$ROOTFS" dpkg-query -W -f '${Package} ${Version}\n' >"$ROOTFS/etc/homefleet-e2e/packages"
}

build_rootfs() {
  local start=$SECONDS tmp=$ROOTFS.tmp include
  [ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C homefleet-e2e -f "$KEY"
  rm -rf "$tmp"
  include=$(IFS=,; echo "${PACKAGES[*]}")
  log "debootstrap bookworm ($ARCH) into $tmp"
  mkdir -p "$DEBS" # downloaded .debs, kept for the next build
  debootstrap --arch="$ARCH" --variant=minbase --cache-dir="$DEBS" --include="$include" bookworm "$tmp" "$MIRROR" >"$BUILD_LOG" 2>&1 ||
    die "debootstrap failed, see $BUILD_LOG"
  log "debootstrap done after $((SECONDS - start)) s"

  # No service may start inside the build; debootstrap's --include leaves some packages unconfigured.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 0755 "$tmp/usr/sbin/policy-rc.d"
  in_root "$tmp" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive;
    dpkg --configure -a && apt-get -f install -y -q && dpkg --audit' >>"$BUILD_LOG" 2>&1 ||
    die "configuring packages failed, see $BUILD_LOG"
  if [ "${#LATE_PACKAGES[@]}" -gt 0 ]; then
    in_root "$tmp" /bin/sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends ${LATE_PACKAGES[*]}" >>"$BUILD_LOG" 2>&1 ||
      die "installing ${LATE_PACKAGES[*]} failed, see $BUILD_LOG"
  fi
  local broken
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  broken=$(in_root "$tmp" dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | grep -v '^ii ' || true)
  [ -z "$broken" ] || die "packages not installed cleanly: $broken"

  # Podman on a --volatile=overlay root: overlay on overlay does not work, vfs does.
  mkdir -p "$tmp/etc/containers"
  cat >"$tmp/etc/containers/storage.conf" <<'EOF'
# homefleet e2e test host: the root is an overlay (systemd-nspawn --volatile=overlay).
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF

  # SSH: root by key only. One ed25519 host key; `up` binds a per-host key over it.
  mkdir -p "$tmp/root/.ssh" "$tmp/etc/ssh/sshd_config.d"
  chmod 0700 "$tmp/root/.ssh"
  install -m 0600 "$KEY.pub" "$tmp/root/.ssh/authorized_keys"
  rm -f "$tmp"/etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C homefleet-e2e-rootfs -f "$tmp/etc/ssh/ssh_host_ed25519_key"
  cat >"$tmp/etc/ssh/sshd_config.d/homefleet-e2e.conf" <<'EOF'
# homefleet e2e test host
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
AcceptEnv HOMEFLEET_*
EOF

  local unit
  for unit in "${DISABLED_UNITS[@]}"; do
    if [ -e "$tmp/lib/systemd/system/$unit" ]; then
      in_root "$tmp" systemctl disable --quiet "$unit" 2>/dev/null || true
    fi
  done
  # Each host gets its own machine id from `up` (--uuid); an empty file lets systemd take it.
  : >"$tmp/etc/machine-id"
  # No /etc/hostname (debootstrap copies the machine's): systemd keeps the name nspawn set.
  rm -f "$tmp/etc/hostname"
  rm -f "$tmp/var/lib/dbus/machine-id"

  import_standin "$tmp"

  in_root "$tmp" apt-get clean
  rm -f "$tmp/usr/sbin/policy-rc.d"
  mkdir -p "$tmp/etc/homefleet-e2e"
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  in_root "$tmp" dpkg-query -W -f '${Package} ${Version}\n' >"$tmp/etc/homefleet-e2e/packages"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - start)) s" >"$tmp/etc/homefleet-e2e/complete"
  rm -rf "$ROOTFS"
  mv "$tmp" "$ROOTFS"
  log "rootfs ready: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1), $((SECONDS - start)) s)"
}

# --- processes -----------------------------------------------------------------------------------

# Start time of PID (field 22 of /proc/PID/stat), to tell our process from a reused PID.
# Fails for a process that is gone or a zombie.
starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split the fields
  set -- $stat
  [ "$1" != Z ] || return 1 # a zombie has exited already
  echo "${20}"
}

# True if the PID recorded in FILE ("PID STARTTIME") is still that process.
alive() { # FILE
  local pid st now
  [ -f "$1" ] || return 1
  read -r pid st <"$1" || return 1
  now=$(starttime "$pid") || return 1
  [ "$now" = "$st" ]
}

pid_of() { # FILE
  local pid _st
  read -r pid _st <"$1"
  echo "$pid"
}

record_pid() { # PID FILE
  echo "$1 $(starttime "$1")" >"$2"
}

# The container's PID 1: nspawn's child in another PID namespace, once it runs systemd.
find_leader() { # NSPAWN_PID
  local child mine children=()
  mine=$(readlink /proc/self/ns/pid)
  read -ra children 2>/dev/null <"/proc/$1/task/$1/children" || true
  for child in "${children[@]}"; do
    if [ "$(readlink "/proc/$child/ns/pid" 2>/dev/null)" != "$mine" ] &&
      [ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ]; then
      echo "$child"
      return 0
    fi
  done
  return 1
}

# --- up ------------------------------------------------------------------------------------------

valid_name() {
  [[ $1 =~ ^[a-z][a-z0-9-]{0,11}$ ]] || die "NAME must match [a-z][a-z0-9-]{0,11} (ve-NAME must fit 15 characters): $1"
}

cmd_up() {
  need_root
  need_tools systemd-nspawn nsenter ip ssh ssh-keygen
  [ "$#" -eq 2 ] || [ "$#" -eq 3 ] || usage
  local name=$1 index=$2
  set_arch "${3:-$NATIVE_ARCH}"
  valid_name "$name"
  if ! [[ $index =~ ^[0-9]+$ ]] || [ "$index" -lt 1 ] || [ "$index" -gt 254 ]; then
    die "INDEX must be 1-254: $index"
  fi
  cmd_rootfs
  local dir=$HOSTS/$name other
  if alive "$dir/nspawn.pid"; then die "$name is already running"; fi
  for other in "$HOSTS"/*/index; do
    [ -f "$other" ] || continue
    if [ "$(cat "$other")" = "$index" ] && [ "$other" != "$dir/index" ] && alive "$(dirname "$other")/nspawn.pid"; then
      die "index $index is taken by $(basename "$(dirname "$other")")"
    fi
  done
  if ip link show "ve-$name" >/dev/null 2>&1; then die "ve-$name exists: run down $name first"; fi
  # Also catches a host of another state directory (HOMEFLEET_E2E_STATE) on this index.
  if [ -n "$(ip route show "$SUBNET_PREFIX.$index.0/24")" ]; then die "$SUBNET_PREFIX.$index.0/24 is in use"; fi
  # Traffic to a test address whose host is down must not follow the machine's default route.
  # The hosts' /24 routes on their ve- interfaces are more specific; this one stays in place.
  ip route replace unreachable "$SUBNET_PREFIX.0.0/16"
  mkdir -p "$dir"
  rm -f "$dir/nspawn.pid" "$dir/leader.pid" "$dir/info"
  echo "$index" >"$dir/index"
  echo "$ARCH" >"$dir/arch"
  if [ -f "$dir/console.log" ]; then mv "$dir/console.log" "$dir/console.prev.log"; fi
  # A host key per host, kept across restarts, so tests can pin it (homefleet:hosts.*.hostKey).
  [ -f "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/ssh_host_ed25519_key"
  local addr=$SUBNET_PREFIX.$index.2 gw=$SUBNET_PREFIX.$index.1 hostkey uuid
  hostkey=$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")
  echo "$addr $hostkey" >"$dir/known_hosts"
  uuid=$(printf '%s' "homefleet-e2e/$name" | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')

  local start=$SECONDS start_us=${EPOCHREALTIME/./} nspawn leader
  # In the background, in its own session, with no fd of ours but the log: a caller waiting for
  # EOF on a pipe (a test runner) must not wait for the host too.
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then exec {fd}>&-; fi
    done
    exec setsid systemd-nspawn --quiet --register=no --keep-unit --volatile=overlay -D "$ROOTFS" -b \
      --machine="$name" --uuid="$uuid" --network-veth --capability=all \
      --system-call-filter='add_key keyctl request_key @mount @privileged' \
      --console=read-only --link-journal=no --resolv-conf=off --timezone=off \
      --bind-ro="$dir/ssh_host_ed25519_key:/etc/ssh/ssh_host_ed25519_key" \
      --bind-ro="$dir/ssh_host_ed25519_key.pub:/etc/ssh/ssh_host_ed25519_key.pub"
  ) </dev/null >"$dir/console.log" 2>&1 &
  nspawn=$!
  record_pid "$nspawn" "$dir/nspawn.pid"

  until leader=$(find_leader "$nspawn"); do
    alive "$dir/nspawn.pid" || { tail -n 20 "$dir/console.log" >&2; die "$name: systemd-nspawn exited"; }
    [ $((SECONDS - start)) -lt "$BOOT_TIMEOUT" ] || { cmd_down "$name"; die "$name: no container PID 1 after ${BOOT_TIMEOUT}s"; }
    sleep 0.1
  done
  record_pid "$leader" "$dir/leader.pid"

  # Addresses from outside: the container runs no network manager.
  local peer hostif elapsed_us
  until peer=$(nsenter -t "$leader" -n ip -o link show host0 2>/dev/null); do
    [ $((SECONDS - start)) -lt "$BOOT_TIMEOUT" ] || { cmd_down "$name"; die "$name: no host0"; }
    sleep 0.1
  done
  peer=${peer#*host0@if}
  peer=${peer%%:*}
  hostif=$(ip -o link show | awk -F': ' -v idx="$peer" '$1 == idx { sub(/@.*/, "", $2); print $2 }')
  [ -n "$hostif" ] || { cmd_down "$name"; die "$name: no machine-side interface for host0"; }
  echo "$hostif" >"$dir/hostif"
  nsenter -t "$leader" -n ip addr replace "$addr/24" dev host0
  nsenter -t "$leader" -n ip link set host0 up
  ip addr replace "$gw/24" dev "$hostif"
  ip link set "$hostif" up

  until ssh_connect_timeout=2 ssh_to "$name" true 2>/dev/null; do
    alive "$dir/nspawn.pid" || { tail -n 20 "$dir/console.log" >&2; die "$name: systemd-nspawn exited"; }
    [ $((SECONDS - start)) -lt "$BOOT_TIMEOUT" ] || { cmd_down "$name"; die "$name: no ssh after ${BOOT_TIMEOUT}s"; }
    sleep 0.2
  done
  {
    echo "name=$name"
    echo "address=$addr"
    echo "gateway=$gw"
    echo "arch=$ARCH"
    echo "interface=$hostif"
    echo "pid1=$leader"
    echo "nspawn_pid=$nspawn"
    echo "host_key=$hostkey"
    echo "ssh_key=$KEY"
    echo "known_hosts=$dir/known_hosts"
    elapsed_us=$((${EPOCHREALTIME/./} - start_us))
    printf 'boot_seconds=%d.%02d\n' $((elapsed_us / 1000000)) $((elapsed_us % 1000000 / 10000))
  } | tee "$dir/info"
}

ssh_to() { # NAME [SSH ARGS...] [CMD...]
  local name=$1 dir=$HOSTS/$1
  shift
  [ -f "$dir/known_hosts" ] || die "$name: unknown host"
  ssh -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o ConnectTimeout="${ssh_connect_timeout:-10}" \
    -o UserKnownHostsFile="$dir/known_hosts" -o LogLevel=ERROR \
    "root@$SUBNET_PREFIX.$(cat "$dir/index").2" "$@"
}

# --- down ----------------------------------------------------------------------------------------

wait_gone() { # PIDFILE SECONDS
  local deadline=$((SECONDS + $2))
  while alive "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# Now and then (about 3% of shutdowns here) systemd-halt.service fails in the container and
# systemd then waits in final.target forever: no need to wait for the timeout then.
halt_failed() { # CONSOLE_LOG
  grep -a 'Failed to start' "$1" 2>/dev/null | grep -q 'systemd-halt\.service'
}

# An emulated host is stopped from inside. qemu-user shifts the real-time signals, so the halt
# signal that nspawn sends on SIGTERM reaches the container's systemd as another one (rescue, as
# observed): the host would stay up until the second SIGTERM kills it. False for a native host,
# or when systemctl could not ask for the poweroff.
poweroff_inside() { # DIR
  local arch
  arch=$(cat "$1/arch" 2>/dev/null || echo "$NATIVE_ARCH")
  [ "$arch" != "$NATIVE_ARCH" ] && alive "$1/leader.pid" || return 1
  nsenter -t "$(pid_of "$1/leader.pid")" -m -u -i -n -p systemctl poweroff --no-block >/dev/null 2>&1
}

cmd_down() {
  need_root
  [ "$#" -eq 1 ] || usage
  local name=$1 dir=$HOSTS/$1
  valid_name "$name"
  # Only a host this state directory started owns its veth: a same-named host of another state
  # directory (HOMEFLEET_E2E_STATE) keeps its own.
  # A veth that no running container of that name holds is stale (a run cut off before its down),
  # whichever state directory left it.
  local owned=""
  if [ -e "$dir/nspawn.pid" ] || [ -e "$dir/hostif" ] || ! pgrep -f -- "systemd-nspawn .*--machine=$name " >/dev/null; then owned=1; fi
  # SIGTERM makes systemd-nspawn shut the container down in order and wait for it.
  if alive "$dir/nspawn.pid"; then
    if ! poweroff_inside "$dir"; then
      kill -TERM "$(pid_of "$dir/nspawn.pid")" 2>/dev/null || true
    fi
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while alive "$dir/nspawn.pid" && [ "$SECONDS" -lt "$deadline" ] && ! halt_failed "$dir/console.log"; do
      sleep 0.1
    done
    if alive "$dir/nspawn.pid"; then
      # A second SIGTERM makes nspawn kill the container itself and clean up.
      log "$name: no orderly shutdown (see $dir/console.log), terminating it"
      kill -TERM "$(pid_of "$dir/nspawn.pid")" 2>/dev/null || true
      if ! wait_gone "$dir/nspawn.pid" 10; then
        log "$name: systemd-nspawn still running, killing it"
        kill -KILL "$(pid_of "$dir/nspawn.pid")" 2>/dev/null || true
        wait_gone "$dir/nspawn.pid" 10 || true
      fi
    fi
  fi
  # SIGKILL on nspawn leaves the container's systemd running with its ports bound.
  if alive "$dir/leader.pid"; then
    log "$name: container PID 1 survived, killing it"
    kill -KILL "$(pid_of "$dir/leader.pid")" 2>/dev/null || true
    wait_gone "$dir/leader.pid" 10 || log "$name: PID 1 $(pid_of "$dir/leader.pid") did not die"
  fi
  local ifname
  if [ -n "$owned" ]; then
    for ifname in "ve-$name" "$(cat "$dir/hostif" 2>/dev/null || true)"; do
      if [ -n "$ifname" ] && ip link show "$ifname" >/dev/null 2>&1; then
        ip link del "$ifname" || true
      fi
    done
  fi
  rm -f "$dir/nspawn.pid" "$dir/leader.pid" "$dir/hostif" "$dir/info"
  forget_propagate_dir "$name"
}

cmd_down_all() {
  need_root
  local d
  for d in "$HOSTS"/*/; do
    [ -d "$d" ] || continue
    if [ -f "$d/nspawn.pid" ] || [ -f "$d/leader.pid" ]; then
      cmd_down "$(basename "$d")" &
    fi
  done
  wait
}

cmd_list() {
  local d
  for d in "$HOSTS"/*/; do
    [ -d "$d" ] || continue
    if alive "$d/nspawn.pid"; then
      echo "$(basename "$d") $SUBNET_PREFIX.$(cat "$d/index").2 pid1=$(pid_of "$d/leader.pid") arch=$(cat "$d/arch" 2>/dev/null || echo "$NATIVE_ARCH")"
    fi
  done
}

# --- selftest ------------------------------------------------------------------------------------

# Inside a booted host: the stand-in on a dedicated bridge network, its port published on
# 127.0.0.1, must answer non-200 on /health/readiness until Redis and PostgreSQL listen on the
# bridge gateway, and 200 after. Leaves the host as it found it.
cmd_selftest() {
  need_root
  [ "$#" -eq 1 ] || usage
  ssh_to "$1" bash -s -- "$STANDIN_IMAGE" <<'EOF'
set -euo pipefail
image=$1
net=hf-selftest subnet=10.89.250.0/24 gw=10.89.250.1
t0=$(date +%s.%N)
since() { echo "$(date +%s.%N) - $t0" | awk '{ printf "%.2f", $1 - $3 }'; }
code() { curl -s -o /tmp/selftest-body -w '%{http_code}' --max-time 10 "http://127.0.0.1:4000$1" || true; }
cleanup() {
  podman rm --force --ignore standin-selftest >/dev/null 2>&1 || true
  podman network rm --force "$net" >/dev/null 2>&1 || true
  if [ -f /run/selftest-redis.pid ]; then kill "$(cat /run/selftest-redis.pid)" 2>/dev/null || true; fi
  systemctl stop postgresql@15-main 2>/dev/null || true
  rm -f /etc/postgresql/15/main/conf.d/90-selftest.conf /tmp/selftest-config.yaml /tmp/selftest-body
}
trap cleanup EXIT
echo "podman $(podman version --format '{{.Client.Version}}'), cgroups $(stat -fc %T /sys/fs/cgroup)"
podman network create --subnet "$subnet" --gateway "$gw" --disable-dns "$net" >/dev/null
printf 'router_settings:\n  redis_host: %s\n  redis_port: 6380\n' "$gw" >/tmp/selftest-config.yaml
podman run -d --name standin-selftest --replace --cgroups=disabled --network "$net" \
  --publish 127.0.0.1:4000:4000 --env DATABASE_URL="postgresql://u:secret@$gw:5432/db" \
  --volume /tmp/selftest-config.yaml:/app/config.yaml:ro "$image" --config /app/config.yaml --port 4000 >/dev/null
until [ "$(code /health/liveliness)" = 200 ]; do
  [ "$(since | cut -d. -f1)" -lt 30 ] || { echo "FAIL: no liveliness"; podman logs standin-selftest; exit 1; }
  sleep 0.2
done
echo "container up, liveliness 200 after $(since) s; bridge: $(ip -br addr show | awk -v g="$gw" 'index($0, g) { print $1 }')"
c=$(code /health/readiness); echo "no PostgreSQL, no Redis: readiness $c $(cat /tmp/selftest-body)"
[ "$c" != 200 ] || { echo "FAIL: ready without dependencies"; exit 1; }
redis-server --port 6380 --bind "127.0.0.1 $gw" --save '' --appendonly no --requirepass selftest \
  --daemonize yes --pidfile /run/selftest-redis.pid --logfile /tmp/selftest-redis.log
sleep 0.5
c=$(code /health/readiness); echo "Redis only:             readiness $c $(cat /tmp/selftest-body)"
[ "$c" != 200 ] || { echo "FAIL: ready without PostgreSQL"; exit 1; }
echo "listen_addresses = '127.0.0.1,$gw'" >/etc/postgresql/15/main/conf.d/90-selftest.conf
systemctl start postgresql@15-main
c=$(code /health/readiness); echo "PostgreSQL and Redis:   readiness $c $(cat /tmp/selftest-body)"
[ "$c" = 200 ] || { echo "FAIL: not ready with both"; exit 1; }
kill "$(cat /run/selftest-redis.pid)"; sleep 0.5
c=$(code /health/readiness); echo "Redis stopped again:    readiness $c"
[ "$c" != 200 ] || { echo "FAIL: ready after Redis stopped"; exit 1; }
t1=$(date +%s.%N); podman stop --time 30 standin-selftest >/dev/null
echo "podman stop took $(echo "$(date +%s.%N) - $t1" | awk '{ printf "%.2f", $1 - $3 }') s"
echo "selftest passed in $(since) s"
EOF
}

main() {
  [ "$#" -ge 1 ] || usage
  local cmd=$1
  shift
  case "$cmd" in
    rootfs) cmd_rootfs "$@" ;;
    emulator) cmd_emulator "$@" ;;
    standin-image) cmd_standin_image "$@" ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    down-all) cmd_down_all "$@" ;;
    list) cmd_list "$@" ;;
    ssh) [ "$#" -ge 1 ] || usage; ssh_to "$@" ;;
    selftest) cmd_selftest "$@" ;;
    *) usage ;;
  esac
}

main "$@"
