/**
 * A native service's database connection, judged by a real PostgreSQL running exactly the
 * pg_hba.conf rules homefleet renders (initdb + pg_ctl as postgres on a free loopback port, as in
 * tests/postgres.hba.test.ts). Home Assistant connects over the Unix socket as its system user
 * `hass` by peer authentication; Grafana over 127.0.0.1 with its role's password. Each reaches its
 * own database and nothing else, and no other system user gets in as `hass`.
 *
 * Needs root: it creates the system user `hass` when the machine has none (and removes it after).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFleetConfig } from "../config/load";
import { buildFleetModel } from "../model/build";
import { hbaRules } from "../render/common/postgresHba";

jest.setTimeout(60_000);

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PG_BIN = join("/usr/lib/postgresql", (existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : ["15"]).sort((a, b) => Number(b) - Number(a))[0], "bin");

const config = parseFleetConfig({
  hosts: { vulcan: { address: "192.0.2.10", arch: "aarch64", os: "nixos" } },
  stacks: {
    "home-assistant": { host: "vulcan", native: { service: "home-assistant" }, database: {} },
    grafana: { host: "vulcan", native: { service: "grafana" }, database: {} },
  },
});
const pg = buildFleetModel(config).hosts[0].postgres!;

let base = "";
let pgData = "";
let sockDir = "";
let port = 0;
let started = false;
let createdHass = false;

function exec(cmd: string, args: readonly string[], opts: { as?: string; env?: Record<string, string> } = {}) {
  const argv = opts.as ? ["runuser", "-u", opts.as, "--", cmd, ...args] : [cmd, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", cwd: base || "/", env: { PATH, LANG: "C.UTF-8", ...opts.env }, timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function must(r: { status: number | null; out: string }, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.out}`);
  return r.out;
}

/** psql over the socket as system user OS asking for ROLE: what a peer-authenticated service does. */
const overSocket = (os: string, role: string, database: string) => exec(join(PG_BIN, "psql"), ["-X", "-At", "-h", sockDir, "-p", String(port), "-U", role, "-d", database, "-c", "select current_user"], { as: os });
/** psql over TCP on 127.0.0.1 with a password: what Grafana's settings.database does. */
const overTcp = (role: string, password: string, database: string) => exec(join(PG_BIN, "psql"), ["-X", "-At", "-h", "127.0.0.1", "-p", String(port), "-U", role, "-d", database, "-c", "select current_user"], { env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" } });

beforeAll(async () => {
  if (exec("id", ["-u", "hass"]).status !== 0) {
    must(exec("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "hass"]), "useradd hass");
    createdHass = true;
  }
  port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const p = (server.address() as AddressInfo).port;
      server.close(() => resolve(p));
    });
  });
  base = mkdtempSync(join(tmpdir(), "hf-native-pg-"));
  chmodSync(base, 0o755);
  const uid = Number(must(exec("id", ["-u", "postgres"]), "id -u"));
  const gid = Number(must(exec("id", ["-g", "postgres"]), "id -g"));
  const pgDir = join(base, "pg");
  mkdirSync(pgDir, { mode: 0o700 });
  chownSync(pgDir, uid, gid);
  // The socket's directory is open to every user, as /run/postgresql is.
  sockDir = join(base, "sock");
  mkdirSync(sockDir, { mode: 0o755 });
  chownSync(sockDir, uid, gid);
  pgData = join(pgDir, "data");
  must(exec(join(PG_BIN, "initdb"), ["-D", pgData, "-U", "postgres", "--auth-local=peer", "--auth-host=reject", "--encoding=UTF8", "--locale=C", "--no-sync"], { as: "postgres" }), "initdb");
  writeFileSync(join(pgData, "postgresql.conf"), `${readFileSync(join(pgData, "postgresql.conf"), "utf8")}\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${sockDir}'\npassword_encryption = 'scram-sha-256'\nfsync = off\n`);
  writeFileSync(join(pgData, "pg_hba.conf"), `${hbaRules(pg).join("\n")}\n`);
  must(exec(join(PG_BIN, "pg_ctl"), ["-D", pgData, "-l", join(pgDir, "log"), "-w", "-t", "30", "start"], { as: "postgres" }), "pg_ctl start");
  started = true;
  const sql = (statement: string) => must(exec(join(PG_BIN, "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sockDir, "-p", String(port), "-d", "postgres", "-c", statement], { as: "postgres" }), statement);
  // What homefleet's role unit does for every stack's database: a role with a password, its own database.
  for (const db of pg.databases) {
    sql(`CREATE ROLE ${db.user} LOGIN PASSWORD 'pw-${db.user}'`);
    sql(`CREATE DATABASE ${db.name} OWNER ${db.user}`);
  }
}, 45_000);

afterAll(() => {
  if (started) exec(join(PG_BIN, "pg_ctl"), ["-D", pgData, "-m", "immediate", "-w", "-t", "20", "stop"], { as: "postgres" });
  if (createdHass) exec("userdel", ["hass"]);
  if (base) rmSync(base, { recursive: true, force: true });
});

describe("a native service's database connection, as a real PostgreSQL reads pg_hba.conf", () => {
  it("renders a peer rule for Home Assistant's role hass and only loopback password rules for Grafana", () => {
    expect(hbaRules(pg)).toEqual([
      "# TYPE  DATABASE  USER  ADDRESS  METHOD",
      "local all postgres peer",
      'host "grafana" "grafana" 127.0.0.1/32 scram-sha-256',
      'local "home_assistant" "hass" peer',
      'host "home_assistant" "hass" 127.0.0.1/32 scram-sha-256',
    ]);
  });

  it("lets the hass system user into home_assistant over the socket, with no password", () => {
    expect(must(overSocket("hass", "hass", "home_assistant"), "hass → home_assistant").trim()).toBe("hass");
  });

  it("keeps hass out of every other database over the socket", () => {
    for (const db of ["grafana", "postgres"]) {
      const r = overSocket("hass", "hass", db);
      expect({ db, status: r.status }).toEqual({ db, status: 2 });
      expect(r.out).toContain(`no pg_hba.conf entry for host "[local]", user "hass", database "${db}"`);
    }
  });

  it("refuses another system user claiming the role hass", () => {
    const r = overSocket("postgres", "hass", "home_assistant");
    expect(r.status).toBe(2);
    expect(r.out).toContain('Peer authentication failed for user "hass"');
  });

  it("lets Grafana in over 127.0.0.1 with its password, and not over the socket", () => {
    expect(must(overTcp("grafana", "pw-grafana", "grafana"), "grafana → grafana").trim()).toBe("grafana");
    expect(overTcp("grafana", "wrong", "grafana").out).toContain('password authentication failed for user "grafana"');
    expect(overTcp("grafana", "pw-grafana", "home_assistant").out).toContain('no pg_hba.conf entry for host "127.0.0.1", user "grafana", database "home_assistant"');
    expect(overSocket("postgres", "grafana", "grafana").out).toContain('no pg_hba.conf entry for host "[local]", user "grafana", database "grafana"');
  });
});
