/**
 * The rendered pg_hba.conf means what the config says, judged by a real PostgreSQL: a throwaway
 * cluster (initdb + pg_ctl as the `postgres` user, on a free loopback port) runs with exactly the
 * rules homefleet renders for two stacks. Each stack's role logs in to its own database with
 * scram-sha-256 and to nothing else; no role logs in without its password; and a database or role
 * named like a pg_hba keyword never reaches the file, because config refuses it first.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { ConfigError, parseFleetConfig } from "../config/load";
import { buildFleetModel } from "../model/build";
import { hbaRules } from "../render/common/postgresHba";

jest.setTimeout(60_000);

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PG_BIN = join("/usr/lib/postgresql", (existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : ["15"]).sort((a, b) => Number(b) - Number(a))[0], "bin");

function stack(host: string, database: Record<string, string> = {}, index = 7): Record<string, unknown> {
  return { host, kind: "container", network: { subnet: `10.89.${index}.0/24` }, container: { image: "docker.io/library/nginx:1.27.3", port: 8000 + index, healthCheck: { path: "/" } }, database };
}

const host = { address: "192.0.2.10", arch: "x86_64", os: "systemd" };
const config = parseFleetConfig({ hosts: { box: host }, stacks: { shop: stack("box"), "wiki-app": stack("box", { user: "wiki" }, 8) } });
const pg = buildFleetModel(config).hosts.find((h) => h.name === "box")!.postgres!;

let base = "";
let pgData = "";
let port = 0;
let started = false;

function exec(cmd: string, args: readonly string[], opts: { asPostgres?: boolean; env?: Record<string, string> } = {}) {
  const argv = opts.asPostgres ? ["runuser", "-u", "postgres", "--", cmd, ...args] : [cmd, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", cwd: base, env: { PATH, LANG: "C.UTF-8", ...opts.env }, timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function must(r: { status: number | null; out: string }, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.out}`);
  return r.out;
}

/** psql over TCP on 127.0.0.1 as ROLE with PASSWORD: what a stack's container does. */
function loginAs(role: string, password: string, database: string) {
  return exec(join(PG_BIN, "psql"), ["-X", "-At", "-h", "127.0.0.1", "-p", String(port), "-U", role, "-d", database, "-c", "select current_user"], { env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" } });
}

beforeAll(async () => {
  port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const p = (server.address() as AddressInfo).port;
      server.close(() => resolve(p));
    });
  });
  base = mkdtempSync(join(tmpdir(), "hf-hba-"));
  chmodSync(base, 0o755);
  const pgDir = join(base, "pg");
  mkdirSync(pgDir, { mode: 0o700 });
  chownSync(pgDir, Number(must(exec("id", ["-u", "postgres"]), "id -u")), Number(must(exec("id", ["-g", "postgres"]), "id -g")));
  pgData = join(pgDir, "data");
  must(exec(join(PG_BIN, "initdb"), ["-D", pgData, "-U", "postgres", "--auth-local=peer", "--auth-host=reject", "--encoding=UTF8", "--locale=C", "--no-sync"], { asPostgres: true }), "initdb");
  writeFileSync(join(pgData, "postgresql.conf"), `${readFileSync(join(pgData, "postgresql.conf"), "utf8")}\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${pgDir}'\npassword_encryption = 'scram-sha-256'\nfsync = off\n`);
  // Exactly the rules homefleet renders, nothing of initdb's.
  writeFileSync(join(pgData, "pg_hba.conf"), `${hbaRules(pg).join("\n")}\n`);
  must(exec(join(PG_BIN, "pg_ctl"), ["-D", pgData, "-l", join(pgDir, "log"), "-w", "-t", "30", "start"], { asPostgres: true }), "pg_ctl start");
  started = true;
  const sql = (db: string, statement: string) => must(exec(join(PG_BIN, "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pgDir, "-p", String(port), "-d", db, "-c", statement], { asPostgres: true }), statement);
  for (const db of pg.databases) {
    sql("postgres", `CREATE ROLE ${db.user} LOGIN PASSWORD 'pw-${db.user}'`);
    sql("postgres", `CREATE DATABASE ${db.name} OWNER ${db.user}`);
  }
}, 45_000);

/** Replaces pg_hba.conf and has the running server read it again. */
function reloadHba(lines: readonly string[]): void {
  writeFileSync(join(pgData, "pg_hba.conf"), `${lines.join("\n")}\n`);
  must(exec(join(PG_BIN, "pg_ctl"), ["-D", pgData, "reload"], { asPostgres: true }), "pg_ctl reload");
  // The postmaster reloads on SIGHUP, asynchronously.
  spawnSync("sleep", ["1"]);
}

afterAll(() => {
  if (started) exec(join(PG_BIN, "pg_ctl"), ["-D", pgData, "-m", "immediate", "-w", "-t", "20", "stop"], { asPostgres: true });
  if (base) rmSync(base, { recursive: true, force: true });
});

describe("pg_hba.conf as a real PostgreSQL reads it", () => {
  it("holds quoted rules for each stack's database and role, derived as the model says", () => {
    expect(pg.databases.map((d) => [d.name, d.user])).toEqual([
      ["shop", "shop"],
      ["wiki_app", "wiki"],
    ]);
    expect(hbaRules(pg)).toContain(`host "wiki_app" "wiki" 127.0.0.1/32 scram-sha-256`);
  });

  it("lets each role into its own database with its password", () => {
    expect(must(loginAs("shop", "pw-shop", "shop"), "shop → shop").trim()).toBe("shop");
    expect(must(loginAs("wiki", "pw-wiki", "wiki_app"), "wiki → wiki_app").trim()).toBe("wiki");
  });

  it("keeps each role out of every other database, the server's own included", () => {
    for (const [role, db] of [["shop", "wiki_app"], ["wiki", "shop"], ["shop", "postgres"], ["wiki", "template1"]]) {
      const r = loginAs(role, `pw-${role}`, db);
      expect({ role, db, status: r.status }).toEqual({ role, db, status: 2 });
      expect(r.out).toContain(`no pg_hba.conf entry for host "127.0.0.1", user "${role}", database "${db}"`);
    }
  });

  it("refuses a wrong password and the superuser over TCP", () => {
    expect(loginAs("shop", "wrong", "shop").out).toContain('password authentication failed for user "shop"');
    expect(loginAs("postgres", "anything", "shop").out).toContain('no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "shop"');
  });

  it("on NixOS the rendered module owns the whole file: nixpkgs' appended loopback rules would let every role in", () => {
    const nixos = renderFleet(parseFleetConfig({ hosts: { box: { ...host, os: "nixos" } }, stacks: { shop: stack("box"), "wiki-app": stack("box", { user: "wiki" }, 8) } })).bundles[0];
    const module = nixos.files.find((f) => f.path.endsWith("/host.nix"))!.content;
    const forced = module.match(/authentication = lib\.mkForce ''\n([\s\S]*?)\n\s*'';/);
    expect(forced).not.toBeNull();
    const ownText = forced![1].split("\n").map((l) => l.trim()).filter(Boolean);
    expect(ownText).toEqual(hbaRules(pg));
    // What the module system would build without mkForce: nixpkgs' postgresql module adds its
    // defaults after every other definition (nixos/modules/services/databases/postgresql.nix:
    // `services.postgresql.authentication = mkAfter ''...''`). A real PostgreSQL lets `wiki` into
    // `shop` with those lines, and refuses it with homefleet's list alone (the forced value).
    const nixpkgsDefaults = ["# Generated file; do not edit!", "local all all              peer", "host  all all 127.0.0.1/32 md5", "host  all all ::1/128      md5"];
    reloadHba([...ownText, ...nixpkgsDefaults]);
    expect(must(loginAs("wiki", "pw-wiki", "shop"), "wiki → shop with nixpkgs' defaults").trim()).toBe("wiki");
    reloadHba(ownText);
    expect(loginAs("wiki", "pw-wiki", "shop").out).toContain('no pg_hba.conf entry for host "127.0.0.1", user "wiki", database "shop"');
  });

  it("never gets a keyword or the superuser as a name: config refuses them first", () => {
    const refused = (database: Record<string, string>, name = "shop") => {
      try {
        parseFleetConfig({ hosts: { box: host }, stacks: { [name]: stack("box", database) } });
        return [];
      } catch (err) {
        return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
      }
    };
    expect(refused({ name: "all" })).toEqual([
      'homefleet:stacks.shop.database.name: "all" is reserved (a pg_hba.conf keyword or one of the server\'s own databases)',
      'homefleet:stacks.shop.database.name: role "all" is reserved (a pg_hba.conf or SQL role keyword); the role takes the database name unless database.user names another',
    ]);
    expect(refused({ user: "postgres" })).toEqual(['homefleet:stacks.shop.database.user: "postgres" is the PostgreSQL superuser: the stack would own the whole server']);
    expect(refused({ user: "pg_monitor" })).toEqual(['homefleet:stacks.shop.database.user: "pg_monitor": the pg_ prefix is reserved for PostgreSQL\'s predefined roles']);
    expect(refused({}, "postgres")).toEqual([
      "homefleet:stacks.postgres: database \"postgres\" is reserved (a pg_hba.conf keyword or one of the server's own databases); the stack's name is its database name unless database.name names another",
      "homefleet:stacks.postgres: role \"postgres\" is the PostgreSQL superuser: the stack would own the whole server; the stack's name is its database role unless database.user names another",
    ]);
    expect(refused({ name: "shop_db", user: "shop" }, "replication")).toEqual([]);
  });
});
