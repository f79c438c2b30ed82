import type { PostgresServerSpec } from "../../model/specs";

/**
 * pg_hba.conf rules: the postgres superuser over its local socket by peer, and each stack's
 * role only to its own database, only from its own addresses, only with scram-sha-256 (or, for a
 * native service running as the role's system user, over the socket by peer).
 * `trust` is never written (seed 000: any local process could log in as anyone).
 */
export function hbaRules(pg: PostgresServerSpec): string[] {
  const rules = ["# TYPE  DATABASE  USER  ADDRESS  METHOD", "local all postgres peer"];
  for (const db of pg.databases) {
    // Quoted, so a name is only ever that database or role: unquoted, `all`, `replication`,
    // `sameuser`, `+group` or `@file` keep their special meaning. Config refuses those names too.
    // A native service whose system user is the role (Home Assistant as hass) logs in over the
    // socket by peer: the kernel vouches for the user, and no password exists to leak.
    if (db.localPeer) rules.push(`local "${db.name}" "${db.user}" peer`);
    for (const cidr of db.clientCidrs) rules.push(`host "${db.name}" "${db.user}" ${cidr} scram-sha-256`);
  }
  return rules;
}
