#!/bin/bash
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
password_file="${CREDENTIALS_DIRECTORY:?run with LoadCredential=password:<file>}/password"
if [ ! -s "$password_file" ]; then
  echo "credential $password_file is missing or empty" >&2
  exit 1
fi

psql --no-psqlrc --quiet --port "$port" --dbname postgres \
  --set ON_ERROR_STOP=1 --set database="$database" --set role="$role" <<'SQL'
SET log_statement = 'none';
SET log_min_duration_statement = -1;
\set password `cat "$CREDENTIALS_DIRECTORY/password"`
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
ALTER ROLE :"role" WITH LOGIN PASSWORD :'password';
\unset password
SQL
echo "role $role owns database $database; password set"
