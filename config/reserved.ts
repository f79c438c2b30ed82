/**
 * Names and paths that are valid syntax but would change what a host does: PostgreSQL's own roles
 * and pg_hba.conf keywords, and system directories whose owner and mode homefleet would take over.
 * The checks in load.ts refuse them with the config path; the model derives names with
 * `databaseNames`, so both agree on what a stack's database and role are called.
 */

/** A stack's database and owner role: the stack name (with `_` for `-`) unless the config names them. */
export function databaseNames(stackName: string, database: { readonly name?: string; readonly user?: string }): { name: string; user: string } {
  const name = database.name ?? stackName.replace(/-/g, "_");
  return { name, user: database.user ?? name };
}

/**
 * A stack's podman network and Linux bridge: `hf-<stack>` and `hf` + the stack name without '-'
 * (cut to 13 characters: the kernel allows 15 and homefleet adds `-k` for the anchor interface),
 * unless the config names them. No '-' in the bridge: device unit names would need `\x2d`.
 */
/** The first address of a bridge's subnet: podman's gateway, the host's own address on the bridge. */
export function bridgeGateway(subnet: string): string {
  const octets = subnet.split("/")[0].split(".").map(Number);
  octets[3] += 1;
  return octets.join(".");
}

/**
 * The fixed address of a stack's container on its own bridge when another stack links to it: the
 * last host address of the subnet (10.89.2.254 in 10.89.2.0/24). homefleet's networks run no DNS
 * (see render/common/podman.ts), so a linked container is reached by address, and podman hands
 * out the others from the bottom of the range, below it (the network's lease range ends before it).
 */
export function linkAddress(subnet: string): string {
  const [base, bits] = subnet.split("/");
  const address = base.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  const last = address - (address % size) + size - 2;
  return [24, 16, 8, 0].map((shift) => Math.floor(last / 2 ** shift) % 256).join(".");
}

/** `<PREFIX>_HOST` and `<PREFIX>_PORT` carry a linked container's address: the link's env, or the stack name in upper case. */
export function linkEnvPrefix(link: { readonly stack: string; readonly env?: string }): string {
  return link.env ?? link.stack.toUpperCase().replace(/-/g, "_");
}

export function networkNames(stackName: string, network: { readonly name?: string; readonly interface?: string }): { name: string; interface: string } {
  return { name: network.name ?? `hf-${stackName}`, interface: network.interface ?? `hf${stackName.replace(/-/g, "")}`.slice(0, 13) };
}

/**
 * Database names with a meaning of their own: pg_hba.conf keywords (`all` matches every database,
 * `replication` the replication protocol) and the server's own databases.
 */
const RESERVED_DATABASES = new Set(["all", "sameuser", "samerole", "samegroup", "replication", "postgres", "template0", "template1"]);

/**
 * Role names with a meaning of their own: the superuser `postgres`, pg_hba.conf keywords, SQL's
 * role keywords, and the `pg_` prefix that PostgreSQL keeps for its predefined roles.
 */
const RESERVED_ROLES = new Set(["postgres", "all", "sameuser", "samerole", "samegroup", "replication", "public", "none", "current_user", "current_role", "session_user"]);

export function reservedDatabaseName(name: string): string | undefined {
  if (RESERVED_DATABASES.has(name)) return `"${name}" is reserved (a pg_hba.conf keyword or one of the server's own databases)`;
  return undefined;
}

export function reservedRoleName(name: string): string | undefined {
  if (name === "postgres") return `"postgres" is the PostgreSQL superuser: the stack would own the whole server`;
  if (RESERVED_ROLES.has(name)) return `"${name}" is reserved (a pg_hba.conf or SQL role keyword)`;
  if (name.startsWith("pg_")) return `"${name}": the pg_ prefix is reserved for PostgreSQL's predefined roles`;
  return undefined;
}

/** Directories that are the system's: homefleet must never create, chown or chmod them or anything below. */
const SYSTEM_TREES = ["/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys", "/run", "/nix", "/var/lib/homefleet", "/var/lib/postgresql", "/var/lib/containers", "/var/lib/systemd"];
/**
 * Trees the system empties (Debian's tmpfiles.d empties /tmp at every boot; NixOS and newer Debian
 * age both) and that every unit with PrivateTmp=, as homefleet's are, sees as an empty directory of
 * its own: data kept there is lost, and a unit told to write below them writes into its private copy.
 */
const VOLATILE_TREES = ["/tmp", "/var/tmp"];
/** Shared parents: a directory below them is fine, the directory itself is not homefleet's. */
const SHARED_PARENTS = ["/", "/tmp", "/var", "/var/lib", "/var/tmp", "/var/log", "/var/cache", "/var/backups", "/var/spool", "/home", "/root", "/srv", "/opt", "/mnt", "/media"];

/**
 * Why a directory homefleet would create and own (a container volume, the backup directory) is not
 * safe to own, or undefined. Expects an absolute path of the schema's characters.
 */
export function unsafeDataDirectory(path: string): string | undefined {
  const segments = path.split("/").slice(1);
  if (segments.some((s) => s === "." || s === "..")) return `"${path}" contains "." or ".." segments: write the directory it means`;
  if (segments.slice(0, -1).some((s) => s === "") || (segments.length > 1 && segments[segments.length - 1] === "")) return `"${path}" has empty segments: write it without "//" or a trailing "/"`;
  if (SHARED_PARENTS.includes(path)) return `"${path}" is a shared system directory: homefleet would change its owner and mode; use a directory of its own below it`;
  const tree = SYSTEM_TREES.find((t) => path === t || path.startsWith(`${t}/`));
  if (tree) return `"${path}" is ${path === tree ? "" : `inside ${tree}, `}a system directory: homefleet would change its owner and mode; use a directory of its own, e.g. below /var/lib`;
  const volatile = VOLATILE_TREES.find((t) => path.startsWith(`${t}/`));
  if (volatile) return `"${path}" is inside ${volatile}, which the system empties and which homefleet's units (PrivateTmp=) each see as a private, empty directory: what is kept there is lost; use a directory below /var/lib or /srv`;
  return undefined;
}

/**
 * Why a job may not be given write access to PATH (ReadWritePaths=), or undefined. Unlike a data
 * directory homefleet owns, a write path stays the user's: any directory below the shared parents
 * is fine, but never a system tree (a job could rewrite /etc, the Nix store or homefleet's
 * secrets) nor a shared parent as a whole (all of /var/lib holds every service's state).
 */
export function unsafeWritePath(path: string): string | undefined {
  const segments = path.split("/").slice(1);
  if (segments.some((s) => s === "." || s === "..")) return `"${path}" contains "." or ".." segments: write the path it means`;
  if (path !== "/" && segments.some((s) => s === "")) return `"${path}" has empty segments: write it without "//" or a trailing "/"`;
  if (path === "/") return `"/" would let the job write the whole system: name the directories it writes`;
  if (SHARED_PARENTS.includes(path)) return `"${path}" is a shared system directory: name the job's own directory below it`;
  const tree = SYSTEM_TREES.find((t) => path === t || path.startsWith(`${t}/`));
  if (tree) return `"${path}" is ${path === tree ? "" : `inside ${tree}, `}a system directory a job must not write (its programs, configuration or homefleet's secrets): use a directory of its own, e.g. below /var/lib or /srv`;
  return undefined;
}

/** The directory of a restic repository on this host's own disks (a path, or `local:<path>`), or undefined for a remote one. */
export function localRepositoryPath(repository: string): string | undefined {
  const path = repository.startsWith("local:") ? repository.slice("local:".length) : repository;
  return path.startsWith("/") ? path : undefined;
}

/** `path` is `parent` or below it (both normalized absolute paths). */
export function pathWithin(path: string, parent: string): boolean {
  return path === parent || path.startsWith(parent === "/" ? "/" : `${parent}/`);
}

/** Paths that must be given whole (RequiresMountsFor=): absolute, without "." / ".." or empty segments. */
export function malformedPath(path: string): string | undefined {
  const segments = path.split("/").slice(1);
  if (segments.some((s) => s === "." || s === "..")) return `"${path}" contains "." or ".." segments: write the path it means`;
  if (path !== "/" && segments.some((s) => s === "")) return `"${path}" has empty segments: write it without "//" or a trailing "/"`;
  return undefined;
}

/**
 * Why NAME cannot be a job on a host with STACKS, or undefined: a job's units are `<name>.service`
 * and `<name>.timer`, and one named like a unit homefleet writes or configures would replace it.
 */
export function reservedJobName(name: string, stacks: readonly string[]): string | undefined {
  if (name.startsWith("homefleet-")) return `"${name}": names starting homefleet- are homefleet's own units (backups, certificates, exporters, networks)`;
  for (const stack of stacks) {
    if (name === `podman-${stack}`) return `"${name}" is the unit of stack ${stack}'s container: a job named so would replace it`;
    if (name === `redis-${stack}`) return `"${name}" is the unit of stack ${stack}'s Redis: a job named so would replace it`;
  }
  if (name === "postgresql" || name.startsWith("postgresql-")) return `"${name}" is a PostgreSQL unit homefleet configures: name the job after what it does`;
  if (name === "prometheus" || name.startsWith("prometheus-")) return `"${name}" is a Prometheus or exporter unit homefleet configures: name the job after what it does`;
  if (["redis-server", "podman", "alertmanager", "nginx"].includes(name)) return `"${name}" is a unit homefleet configures or disables: name the job after what it does`;
  return undefined;
}
