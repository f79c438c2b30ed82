import type { PostgresServerSpec } from "../../model/specs";

/**
 * pg_hba.conf rules: the postgres superuser over its local socket by peer, and each stack's
 * role only to its own database, only from its own addresses, only with scram-sha-256.
 * `trust` is never written (seed 000: any local process could log in as anyone).
 */
export function hbaRules(pg: PostgresServerSpec): string[] {
  const rules = ["# TYPE  DATABASE  USER  ADDRESS  METHOD", "local all postgres peer"];
  for (const db of pg.databases) {
    // Quoted, so a name is only ever that database or role: unquoted, `all`, `replication`,
    // `sameuser`, `+group` or `@file` keep their special meaning. Config refuses those names too.
    for (const cidr of db.clientCidrs) rules.push(`host "${db.name}" "${db.user}" ${cidr} scram-sha-256`);
  }
  return rules;
}
