/**
 * Shell scripts homefleet installs on hosts. They take every value as an argument or from a
 * systemd credential, never by text substitution into the script, so no user value is ever
 * parsed as shell. Each one is checked by shellcheck in the test suite.
 */

export interface ScriptSpec {
  /** File and command name, e.g. `homefleet-network`. */
  readonly name: string;
  /** Commands the script runs, as NixOS runtimeInputs (package attribute names). */
  readonly nixRuntimeInputs: readonly string[];
  readonly text: string;
}

export const networkScript: ScriptSpec = {
  name: "homefleet-network",
  nixRuntimeInputs: ["iproute2"],
  text: `#!/bin/bash
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
  ip link add name "$anchor" type veth peer name "\${anchor%k}p"
fi
ip link set dev "\${anchor%k}p" up
ip link set dev "$anchor" master "$iface"
ip link set dev "$anchor" up
ip addr replace "$address" dev "$iface"
ip link set dev "$iface" up
echo "bridge $iface is up with $address"
`,
};

export const waitHttpScript: ScriptSpec = {
  name: "homefleet-wait-http",
  nixRuntimeInputs: ["curl", "coreutils"],
  text: `#!/bin/bash
# Waits until URL answers with a 2xx status, for at most TIMEOUT seconds, polling every
# INTERVAL seconds. Runs as ExecStartPost, so the unit only becomes active once the service
# is healthy and a deployment can gate on unit state (a health check with a generous timeout).
# Usage: homefleet-wait-http URL TIMEOUT INTERVAL
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 URL TIMEOUT INTERVAL" >&2
  exit 2
fi
url=$1
timeout=$2
interval=$3
deadline=$((SECONDS + timeout))

until curl --silent --show-error --fail --output /dev/null --max-time 10 "$url"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "no healthy answer from $url within \${timeout}s" >&2
    exit 1
  fi
  sleep "$interval"
done
echo "healthy: $url"
`,
};

export const postgresRoleScript: ScriptSpec = {
  name: "homefleet-postgresql-role",
  nixRuntimeInputs: ["postgresql", "coreutils"],
  text: `#!/bin/bash
# Creates a database and its owner role if missing and sets the role's password from the
# systemd credential "password". The password travels from a root-only file through
# LoadCredential into a psql variable: never on a command line, in the environment, or in the
# server log (log_statement is switched off for this session).
# Usage (as the postgres user): homefleet-postgresql-role DATABASE ROLE PORT
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 DATABASE ROLE PORT" >&2
  exit 2
fi
database=$1
role=$2
port=$3
password_file="\${CREDENTIALS_DIRECTORY:?run with LoadCredential=password:<file>}/password"
if [ ! -s "$password_file" ]; then
  echo "credential $password_file is missing or empty" >&2
  exit 1
fi

psql --no-psqlrc --quiet --port "$port" --dbname postgres \\
  --set ON_ERROR_STOP=1 --set database="$database" --set role="$role" <<'SQL'
SET log_statement = 'none';
SET log_min_duration_statement = -1;
\\set password \`cat "$CREDENTIALS_DIRECTORY/password"\`
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \\gexec
ALTER ROLE :"role" WITH LOGIN PASSWORD :'password';
\\unset password
SQL
echo "role $role owns database $database; password set"
`,
};

export const ALL_SCRIPTS: readonly ScriptSpec[] = [networkScript, waitHttpScript, postgresRoleScript];
