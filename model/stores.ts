/**
 * A stack's database and cache, shared by container and native stacks: the generated passwords,
 * their root-only files, and the setup unit of the database and its role.
 */
import { databaseNames } from "../config/reserved";
import type { StackConfig } from "../config/schema";
import { hardening } from "./hardening";
import { secretPaths, serviceName, units } from "./paths";
import type { CacheSpec, DatabaseSpec, GeneratedSecretSpec, HostModel, NetworkSpec, SecretFileSpec, ServiceUnitSpec } from "./specs";

/**
 * A stack's database and role on the host's PostgreSQL: nixpkgs' ensureUsers cannot set
 * passwords, so one script for both flavours keeps them identical. The root-only password file
 * reaches the postgres user as a credential, never as an argument.
 */
export function databaseRoleUnit(stack: string, db: DatabaseSpec, server: string, port: number): ServiceUnitSpec {
  return {
    name: serviceName(units.databaseRole(stack)),
    stack,
    description: `homefleet PostgreSQL database ${db.name} for stack ${stack}`,
    summary: `database ${db.name} and role ${db.user} of stack ${stack}`,
    why: [],
    type: "oneshot",
    remainAfterExit: true,
    user: "postgres",
    group: "postgres",
    credentials: [{ name: "password", path: db.passwordFile }],
    execStart: [{ program: { script: "homefleet-postgresql-role" }, args: [db.name, db.user, String(port)] }],
    after: [server],
    requires: [server],
    partOf: [server],
    wantedBy: ["multi-user.target"],
    hardening: hardening.postgresClient,
  };
}

/**
 * A stack's database and cache, the same for a container and a native service: the generated
 * passwords, their root-only files and the units the service wants. `clientCidrs` and `bind` are
 * where its clients connect from (the bridge, or loopback only).
 */
export function stackStores(name: string, stack: StackConfig, os: HostModel["os"], network: NetworkSpec, roleUser?: string, localPeer?: boolean) {
  const generated: GeneratedSecretSpec[] = [];
  const secretFiles: SecretFileSpec[] = [];
  const wants: string[] = [];
  let database: DatabaseSpec | undefined;
  if (stack.database) {
    const derived = databaseNames(name, stack.database);
    const names = { name: derived.name, user: stack.database.user ?? roleUser ?? derived.user };
    const passwordSecret = `${name}/database-password`;
    generated.push({ id: passwordSecret, description: `PostgreSQL password of role ${names.user} (stack ${name})`, length: 32 });
    database = {
      name: names.name,
      user: names.user,
      passwordSecret,
      passwordFile: secretPaths.databasePassword(name),
      clientCidrs: network.mode === "bridge" ? ["127.0.0.1/32", network.subnet as string] : ["127.0.0.1/32"],
      ...(localPeer ? { localPeer: true } : {}),
    };
    secretFiles.push({ path: database.passwordFile, owner: "root", group: "root", mode: "0400", format: "raw", entries: [{ name: "password", parts: [{ secret: passwordSecret }] }] });
    wants.push(units.databaseRole(name));
  }

  let cache: CacheSpec | undefined;
  if (stack.cache) {
    const passwordSecret = `${name}/cache-password`;
    generated.push({ id: passwordSecret, description: `Redis password (stack ${name})`, length: 32 });
    cache = {
      name,
      port: stack.cache.port,
      bind: network.mode === "bridge" ? ["127.0.0.1", network.gateway as string] : ["127.0.0.1"],
      maxMemory: stack.cache.maxMemory,
      maxMemoryPolicy: stack.cache.maxMemoryPolicy,
      appendOnly: stack.cache.appendOnly,
      appendFsync: stack.cache.appendFsync,
      save: stack.cache.save,
      passwordSecret,
      passwordFile: secretPaths.cachePassword(name),
      authConfFile: secretPaths.cacheAuthConf(name),
    };
    // NixOS's redis module and the backup job read a raw password file; Debian's redis-server reads a config include.
    secretFiles.push({ path: cache.passwordFile, owner: "root", group: "root", mode: "0400", format: "raw", entries: [{ name: "password", parts: [{ secret: passwordSecret }] }] });
    if (os === "systemd") {
      secretFiles.push({ path: cache.authConfFile, owner: "root", group: "root", mode: "0400", format: "redis-conf", entries: [{ name: "requirepass", parts: [{ secret: passwordSecret }] }] });
    }
    secretFiles.push({ path: secretPaths.redisExporterEnv(name), owner: "root", group: "root", mode: "0400", format: "env", entries: [{ name: "REDIS_PASSWORD", parts: [{ secret: passwordSecret }] }] });
    wants.push(units.cache(name));
  }

  return { database, cache, generated, secretFiles, wants };
}
