#!/bin/bash
# Brings up a podman network's bridge with its gateway address before PostgreSQL and Redis bind
# to that address, and keeps it up while no container runs.
# Why: netavark (1.4, Debian bookworm) creates the bridge only when the first container joins,
# never adds the gateway address to a bridge it did not create, and deletes the bridge when the
# last container leaves. A PostgreSQL that starts first comes up listening on localhost only because of
# the first; the last would take the address away on every container restart. An "anchor"
# interface enslaved to the bridge keeps netavark from deleting it: one end of a veth pair,
# because some kernels have no dummy driver (CONFIG_DUMMY unset on the e2e test machine).
# The network definition itself is a file homefleet writes (/etc/containers/networks/NAME.json).
# Usage: homefleet-network INTERFACE GATEWAY/PREFIX ANCHOR
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 INTERFACE GATEWAY/PREFIX ANCHOR" >&2
  exit 2
fi
iface=$1
address=$2
anchor=$3

if ! ip link show dev "$iface" >/dev/null 2>&1; then
  ip link add name "$iface" type bridge
fi
if ! ip link show dev "$anchor" >/dev/null 2>&1; then
  ip link add name "$anchor" type veth peer name "${anchor%k}p"
fi
ip link set dev "${anchor%k}p" up
ip link set dev "$anchor" master "$iface"
ip link set dev "$anchor" up
ip addr replace "$address" dev "$iface"
ip link set dev "$iface" up
echo "bridge $iface is up with $address"
