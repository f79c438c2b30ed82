/**
 * Backup drill: the generated backup scripts run for real against a real PostgreSQL and a real
 * Redis, and every backup is RESTORED and compared with the data that was put in. No mocks.
 *
 * - PostgreSQL: a throwaway cluster (initdb + pg_ctl as the `postgres` user) in a temp dir,
 *   listening on 127.0.0.1 and on a socket in the temp dir, on a free port. The PostgreSQL
 *   script runs as `postgres` via runuser, as its unit would (User=postgres), over that socket
 *   with peer authentication. PGHOST points libpq at the temp socket directory; on a host it is
 *   unset and libpq's default /run/postgresql is used.
 * - Redis: redis-server with --requirepass <canary> on a free loopback port. The Redis script
 *   gets the password the way systemd's LoadCredential= gives it: CREDENTIALS_DIRECTORY points
 *   at a root-only directory holding `redis-password`.
 * - Metrics go to a temp textfile directory (HOMEFLEET_TEXTFILE_DIR).
 * Every server is stopped and every directory removed in afterAll.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { parseFleetConfig } from "../config/load";
import { buildFleetModel } from "../model/build";
import { BACKUP_SCRIPTS, backupConfigScript, backupPostgresqlScript, backupRedisScript } from "../render/scripts/backup";
import type { ScriptSpec } from "../render/scripts";
import { hostScriptPath, run, shellcheckFile, type ToolResult } from "./support/validators";
import { killAndReap } from "./support/children";
import { dataScratch } from "./support/dataScratch";

jest.setTimeout(60_000);

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PG_BIN = join(
  "/usr/lib/postgresql",
  (existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : ["15"]).sort((a, b) => Number(b) - Number(a))[0],
  "bin",
);
const STAMP = /^\d{8}_\d{6}$/;
const CANARY = `canary${randomBytes(16).toString("hex")}`;
const DB = "drill_app";

let base = "";
let pgData = "";
let pgSock = "";
let pgPort = 0;
let pgStarted = false;
let pgUid = 0;
let pgGid = 0;
let textfileDir = "";
let credsDir = "";
let binDir = "";
const redisServers: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function must(result: ToolResult, what: string): string {
  if (result.status !== 0) throw new Error(`${what} failed (${result.status}): ${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Runs a command, optionally as another user, with a minimal systemd-like environment. */
function exec(cmd: string, args: readonly string[], opts: { asPostgres?: boolean; env?: Record<string, string>; input?: string } = {}): ToolResult {
  const argv = opts.asPostgres ? ["runuser", "-u", "postgres", "--", cmd, ...args] : [cmd, ...args];
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: "utf8",
    cwd: base,
    input: opts.input,
    env: { PATH, LANG: "C.UTF-8", ...opts.env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function psql(db: string, sql: string): string {
  return must(exec(join(PG_BIN, "psql"), ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", pgSock, "-p", String(pgPort), "-d", db, "-c", sql], { asPostgres: true }), `psql ${sql}`).trim();
}

/** The test's own Redis client (REDISCLI_AUTH in a short-lived child of the test is fine here). */
function rcli(port: number, args: readonly string[], input?: string, password: string | null = CANARY): string {
  return must(exec("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { input, env: password ? { REDISCLI_AUTH: password } : {} }), `redis-cli ${args.join(" ")}`).trim();
}

async function startRedis(port: number, dir: string, extra: readonly string[]): Promise<void> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", ...extra], {
    stdio: "ignore",
    env: { PATH },
  });
  redisServers.push(child);
  for (let i = 0; i < 100; i++) {
    // Any answer (PONG or NOAUTH) means it listens; status 1 means connection refused.
    if (exec("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "PING"]).status === 0) return;
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-server on ${port} did not start`);
}

function installScript(spec: ScriptSpec): string {
  const path = join(binDir, spec.name);
  writeFileSync(path, spec.text);
  chmodSync(path, 0o755);
  return path;
}

function dir(path: string, mode: number, owner?: "postgres"): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  if (owner) chownSync(path, pgUid, pgGid);
  return path;
}

function touchAgo(path: string, ago: string): void {
  writeFileSync(path, "old\n");
  must(run("touch", ["-d", ago, path]), "touch");
}

/** The metrics file as {"name{labels}": value}, plus its raw text. */
function metrics(job: string): { values: Record<string, string>; text: string } {
  const text = readFileSync(join(textfileDir, `homefleet_backup_${job}.prom`), "utf8");
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    values[line.slice(0, i)] = line.slice(i + 1);
  }
  return { values, text };
}

function series(name: string, job: string, kind: string): string {
  return `${name}{job="${job}",kind="${kind}"}`;
}

function expectHelpAndType(text: string): void {
  for (const name of ["last_run_timestamp_seconds", "last_status", "last_success_timestamp_seconds", "last_size_bytes"]) {
    expect(text).toContain(`# HELP homefleet_backup_${name} `);
    expect(text).toContain(`# TYPE homefleet_backup_${name} gauge\n`);
  }
}

function expectNoTempLeftovers(...dirs: string[]): void {
  for (const d of dirs) expect(readdirSync(d).filter((n) => n.startsWith("."))).toEqual([]);
}

beforeAll(async () => {
  pgUid = Number(must(run("id", ["-u", "postgres"]), "id -u postgres").trim());
  pgGid = Number(must(run("id", ["-g", "postgres"]), "id -g postgres").trim());
  base = dataScratch("hf-backup-drill-");
  chmodSync(base, 0o755);
  binDir = dir(join(base, "bin"), 0o755);
  textfileDir = dir(join(base, "textfile"), 0o755, "postgres");
  credsDir = dir(join(base, "credentials"), 0o700);
  writeFileSync(join(credsDir, "redis-password"), `${CANARY}\n`, { mode: 0o400 });

  // PostgreSQL
  dir(join(base, "pg"), 0o700, "postgres");
  pgData = join(base, "pg", "data");
  pgSock = dir(join(base, "pg", "sock"), 0o700, "postgres");
  pgPort = await freePort();
  must(exec(join(PG_BIN, "initdb"), ["-D", pgData, "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"], { asPostgres: true }), "initdb");
  writeFileSync(
    join(pgData, "postgresql.conf"),
    `${readFileSync(join(pgData, "postgresql.conf"), "utf8")}\nlisten_addresses = '127.0.0.1'\nport = ${pgPort}\nunix_socket_directories = '${pgSock}'\nfsync = off\n`,
  );
  must(exec(join(PG_BIN, "pg_ctl"), ["-D", pgData, "-l", join(base, "pg", "log"), "-w", "-t", "30", "start"], { asPostgres: true }), "pg_ctl start");
  pgStarted = true;
  psql("postgres", `CREATE DATABASE ${DB}`);
  psql(
    DB,
    `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, payload jsonb);
     INSERT INTO items SELECT g, 'item-' || g, jsonb_build_object('n', g, 'sq', g * g) FROM generate_series(1, 1000) g;
     INSERT INTO items VALUES (1001, E'quote '' "dq" $(rm -rf /) \\\\ newline\\n✓ Grüße', NULL);`,
  );
}, 45_000);

afterAll(async () => {
  if (pgStarted) exec(join(PG_BIN, "pg_ctl"), ["-D", pgData, "-m", "immediate", "-w", "-t", "20", "stop"], { asPostgres: true });
  await killAndReap(redisServers);
  if (base) rmSync(base, { recursive: true, force: true });
});

const TABLE_DIGEST = `SELECT count(*) || ':' || md5(string_agg(id || '|' || name || '|' || coalesce(payload::text, 'null'), ',' ORDER BY id)) FROM items`;

describe("backup scripts", () => {
  it.each(BACKUP_SCRIPTS.map((s) => [s.name, s] as const))("%s passes shellcheck as committed, without a single finding", (name) => {
    const result = shellcheckFile(hostScriptPath(name));
    expect({ status: result.status, findings: result.stdout }).toEqual({ status: 0, findings: "" });
  });

  it("never put a Redis password on a command line or in an environment", () => {
    // Code only: the comments explain why --rdb and REDISCLI_AUTH are not used.
    const text = backupRedisScript.text
      .split("\n")
      .filter((line) => !/^\s*#/.test(line))
      .join("\n");
    expect(text).not.toMatch(/REDISCLI_AUTH|redis-cli[^\n]* -a\s|--pass\b|--user\b|\bAUTH\b|--rdb/);
    expect(text).not.toMatch(/\$\(\s*(cat|<)[^)]*password/); // never read into a shell variable
    expect(text).toMatch(/redis-cli -h 127\.0\.0\.1 -p "\$port" --askpass --no-auth-warning SAVE <"\$password_file"/);
  });

  it("refuse an invalid JOB before writing anything", () => {
    const r = exec(installScript(backupConfigScript), [join(base, "nowhere"), "30", "Bad/Job", "config", "/etc/hostname"], { env: { HOMEFLEET_TEXTFILE_DIR: textfileDir } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/JOB must match/);
    expect(readdirSync(textfileDir)).toEqual([]);
  });
});

describe("PostgreSQL drill", () => {
  let dest = "";
  let script = "";
  let firstSuccess = "";

  beforeAll(() => {
    dest = dir(join(base, "backup", "postgresql"), 0o700, "postgres");
    script = installScript(backupPostgresqlScript);
  });

  const env = (): Record<string, string> => ({ PGHOST: pgSock, HOMEFLEET_TEXTFILE_DIR: textfileDir });

  it("dumps, restores into a fresh database with every row, writes metrics, and applies retention", () => {
    // Retention fixtures: old (40 days) matching dumps go; everything else stays.
    const oldMatching = [`${DB}-20200101_000000.dump`, `${DB}-20200102_030405.dump`];
    const kept = [`${DB}-20200103_000000.dump`]; // matching but 10 days old: within retention
    const oldNotMatching = [
      `other_db-20200101_000000.dump`,
      `${DB}-staging-20200101_000000.dump`,
      `${DB}-notes.dump`,
      `${DB}-20200101_000000.dump.bak`,
      `${DB}-20200101_000000.sql`,
      "README.txt",
    ];
    for (const n of [...oldMatching, ...oldNotMatching]) touchAgo(join(dest, n), "40 days ago");
    touchAgo(join(dest, kept[0]), "10 days ago");

    const before = Math.floor(Date.now() / 1000);
    const r = exec(script, [DB, String(pgPort), dest, "30", "drill_pg"], { asPostgres: true, env: env() });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });

    const fresh = readdirSync(dest).filter((n) => n.startsWith(`${DB}-`) && n.endsWith(".dump") && ![...kept, ...oldNotMatching].includes(n));
    expect(fresh).toHaveLength(1);
    expect(fresh[0].slice(DB.length + 1, -".dump".length)).toMatch(STAMP);
    const dump = join(dest, fresh[0]);
    expect(readFileSync(dump).subarray(0, 5).toString()).toBe("PGDMP"); // custom format
    expect(statSync(dump).mode & 0o777).toBe(0o600);
    expect(readdirSync(dest).sort()).toEqual([...kept, ...oldNotMatching, fresh[0]].sort());
    for (const n of oldMatching) expect(r.stdout).toContain(`retention: removed ${join(dest, n)}`);
    expectNoTempLeftovers(dest, textfileDir);

    // Restore into a fresh database and compare every row.
    psql("postgres", "CREATE DATABASE drill_restore");
    must(exec(join(PG_BIN, "pg_restore"), ["--exit-on-error", "--no-owner", "-h", pgSock, "-p", String(pgPort), "-d", "drill_restore", dump], { asPostgres: true }), "pg_restore");
    const original = psql(DB, TABLE_DIGEST);
    expect(original.startsWith("1001:")).toBe(true);
    expect(psql("drill_restore", TABLE_DIGEST)).toBe(original);
    expect(psql("drill_restore", "SELECT name FROM items WHERE id = 1001")).toBe(psql(DB, "SELECT name FROM items WHERE id = 1001"));

    // Metrics: labels, status 1, success time = run time, size = the dump's size, readable by node exporter.
    const { values, text } = metrics("drill_pg");
    expectHelpAndType(text);
    const s = (name: string) => series(name, "drill_pg", "postgresql");
    expect(Object.keys(values).sort()).toEqual(
      [s("homefleet_backup_last_run_timestamp_seconds"), s("homefleet_backup_last_status"), s("homefleet_backup_last_success_timestamp_seconds"), s("homefleet_backup_last_size_bytes")].sort(),
    );
    expect(values[s("homefleet_backup_last_status")]).toBe("1");
    expect(values[s("homefleet_backup_last_size_bytes")]).toBe(String(statSync(dump).size));
    const runTs = Number(values[s("homefleet_backup_last_run_timestamp_seconds")]);
    expect(runTs).toBeGreaterThanOrEqual(before);
    expect(runTs).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(values[s("homefleet_backup_last_success_timestamp_seconds")]).toBe(String(runTs));
    expect(statSync(join(textfileDir, "homefleet_backup_drill_pg.prom")).mode & 0o777).toBe(0o644);
    firstSuccess = String(runTs);
  });

  it("a failing run (wrong port) exits non-zero, writes status 0, keeps the last success time, leaves no partial dump", async () => {
    const filesBefore = readdirSync(dest).sort();
    const wrongPort = await freePort();
    const r = exec(script, [DB, String(wrongPort), dest, "30", "drill_pg"], { asPostgres: true, env: env() });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/backup job drill_pg \(postgresql\) failed/);
    const s = (name: string) => series(name, "drill_pg", "postgresql");
    const { values, text } = metrics("drill_pg");
    expectHelpAndType(text);
    expect(values[s("homefleet_backup_last_status")]).toBe("0");
    expect(values[s("homefleet_backup_last_size_bytes")]).toBe("0");
    expect(values[s("homefleet_backup_last_success_timestamp_seconds")]).toBe(firstSuccess);
    expect(Number(values[s("homefleet_backup_last_run_timestamp_seconds")])).toBeGreaterThanOrEqual(Number(firstSuccess));
    expect(readdirSync(dest).sort()).toEqual(filesBefore);
    expectNoTempLeftovers(dest, textfileDir);
  });

  it("a job that never succeeded has no success line (documented choice), only status 0", async () => {
    const r = exec(script, [DB, String(await freePort()), dest, "30", "drill_pg_never"], { asPostgres: true, env: env() });
    expect(r.status).not.toBe(0);
    const { values } = metrics("drill_pg_never");
    expect(values[series("homefleet_backup_last_status", "drill_pg_never", "postgresql")]).toBe("0");
    expect(Object.keys(values).some((k) => k.startsWith("homefleet_backup_last_success_timestamp_seconds"))).toBe(false);
  });

  it("retention keeps the newest matching file even when it is older than RETENTION_DAYS (the script's own prune function)", () => {
    const text = backupPostgresqlScript.text;
    const prune = text.match(/^prune\(\) \{\n[\s\S]*?\n\}\n/m)?.[0];
    const glob = text.match(/^stamp_glob=.*\n/m)?.[0];
    expect(prune && glob).toBeTruthy();
    const lib = join(base, "prune.sh");
    writeFileSync(lib, `${glob}${prune}`);
    const d = dir(join(base, "prune-only-old"), 0o700);
    for (const n of [`${DB}-20200101_000000.dump`, `${DB}-20200201_000000.dump`, `${DB}-20200301_000000.dump`, "unrelated.dump"]) touchAgo(join(d, n), "40 days ago");
    must(run("touch", ["-d", "35 days ago", join(d, `${DB}-20200301_000000.dump`)]), "touch");
    const r = exec("bash", ["-c", 'set -euo pipefail; source "$1"; dest_dir=$2; retention_days=30; prune "$3-$stamp_glob.dump"', "prune", lib, d, DB]);
    expect(r.status).toBe(0);
    expect(readdirSync(d).sort()).toEqual([`${DB}-20200301_000000.dump`, "unrelated.dump"]);
  });
});

describe("Redis drill", () => {
  let port = 0;
  let dataDir = "";
  let dest = "";
  let script = "";
  const stringKeys = Array.from({ length: 200 }, (_, i) => `drill:str:${String(i).padStart(3, "0")}`);

  beforeAll(async () => {
    port = await freePort();
    dataDir = dir(join(base, "redis-data"), 0o700);
    dest = dir(join(base, "backup", "redis"), 0o700);
    script = installScript(backupRedisScript);
    await startRedis(port, dataDir, ["--requirepass", CANARY]);
    rcli(port, [], stringKeys.map((k, i) => `SET ${k} value-${i}-${"x".repeat(i)}\n`).join(""));
    rcli(port, ["RPUSH", "drill:list", "a", "b", "c"]);
    rcli(port, ["HSET", "drill:hash", "f1", "v1", "f2", "Grüße ✓"]);
    rcli(port, ["SADD", "drill:set", "m1", "m2"]);
    expect(rcli(port, ["DBSIZE"])).toBe("203");
  });

  const env = (creds = credsDir): Record<string, string> => ({ CREDENTIALS_DIRECTORY: creds, HOMEFLEET_TEXTFILE_DIR: textfileDir });

  it("SAVEs and copies the RDB, which a fresh redis-server loads with every key; metrics and retention", async () => {
    touchAgo(join(dest, "dump-20200101_000000.rdb"), "40 days ago");
    for (const n of ["dump.rdb", "dump-manual.rdb", "other-20200101_000000.rdb"]) touchAgo(join(dest, n), "40 days ago");

    // bash -x traces every command's expanded argv: the complete record of what reached a command line.
    const r = exec("bash", ["-x", script, String(port), dataDir, dest, "30", "drill_redis"], { env: env() });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/redis-cli -h 127\.0\.0\.1 -p \d+ --askpass --no-auth-warning SAVE/);
    expect(`${r.stdout}\n${r.stderr}`).not.toContain(CANARY);

    const fresh = readdirSync(dest).filter((n) => /^dump-\d{8}_\d{6}\.rdb$/.test(n));
    expect(fresh).toHaveLength(1);
    expect(readdirSync(dest).sort()).toEqual(["dump-manual.rdb", "dump.rdb", "other-20200101_000000.rdb", fresh[0]].sort());
    const copy = join(dest, fresh[0]);
    expect(readFileSync(copy).subarray(0, 5).toString()).toBe("REDIS");
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    expectNoTempLeftovers(dest, textfileDir);

    // Restore: a fresh server on the copied RDB.
    const restorePort = await freePort();
    const restoreDir = dir(join(base, "redis-restore"), 0o700);
    copyFileSync(copy, join(restoreDir, "dump.rdb"));
    await startRedis(restorePort, restoreDir, []);
    expect(rcli(restorePort, ["DBSIZE"], undefined, null)).toBe("203");
    expect(rcli(restorePort, ["MGET", ...stringKeys], undefined, null)).toBe(rcli(port, ["MGET", ...stringKeys]));
    expect(rcli(restorePort, ["LRANGE", "drill:list", "0", "-1"], undefined, null)).toBe("a\nb\nc");
    expect(rcli(restorePort, ["HGET", "drill:hash", "f2"], undefined, null)).toBe("Grüße ✓");
    expect(rcli(restorePort, ["SMEMBERS", "drill:set"], undefined, null).split("\n").sort()).toEqual(["m1", "m2"]);

    const { values, text } = metrics("drill_redis");
    expectHelpAndType(text);
    const s = (name: string) => series(name, "drill_redis", "redis");
    expect(values[s("homefleet_backup_last_status")]).toBe("1");
    expect(values[s("homefleet_backup_last_size_bytes")]).toBe(String(statSync(copy).size));
    expect(values[s("homefleet_backup_last_success_timestamp_seconds")]).toBe(values[s("homefleet_backup_last_run_timestamp_seconds")]);
  });

  it("a wrong password fails the run (status 0 metric, non-zero exit) without printing any password", () => {
    const wrong = dir(join(base, "credentials-wrong"), 0o700);
    writeFileSync(join(wrong, "redis-password"), "not-the-password\n", { mode: 0o400 });
    const filesBefore = readdirSync(dest).sort();
    const r = exec(script, [String(port), dataDir, dest, "30", "drill_redis"], { env: env(wrong) });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/did not answer OK/);
    expect(`${r.stdout}\n${r.stderr}`).not.toContain(CANARY);
    expect(`${r.stdout}\n${r.stderr}`).not.toContain("not-the-password");
    const { values } = metrics("drill_redis");
    expect(values[series("homefleet_backup_last_status", "drill_redis", "redis")]).toBe("0");
    expect(readdirSync(dest).sort()).toEqual(filesBefore);
  });

  it("a missing credential fails the run with status 0", () => {
    const r = exec(script, [String(port), dataDir, dest, "30", "drill_redis_nocred"], { env: { HOMEFLEET_TEXTFILE_DIR: textfileDir } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/LoadCredential=redis-password/);
    expect(metrics("drill_redis_nocred").values[series("homefleet_backup_last_status", "drill_redis_nocred", "redis")]).toBe("0");
  });
});

describe("volumes drill: a container's writable volumes, archived as the rendered unit says", () => {
  it("archives every writable volume that is not ephemeral, while the container writes to it, and restores it", () => {
    const data = dir(join(base, "srv", "app", "data"), 0o755);
    const media = dir(join(base, "srv", "app", "media"), 0o755);
    const scratchVolume = dir(join(base, "srv", "app", "cache"), 0o755);
    writeFileSync(join(data, "app.db"), "rows\n");
    writeFileSync(join(media, "cover.jpg"), "jpeg\n");
    writeFileSync(join(scratchVolume, "tmp.bin"), "throwaway\n");
    const backupDir = dir(join(base, "volumes-backup"), 0o711);
    const config = parseFleetConfig({
      hosts: { box: { address: "192.0.2.10", arch: "x86_64", os: "systemd", backup: { dir: backupDir } } },
      stacks: {
        app: {
          host: "box",
          network: { subnet: "10.89.7.0/24" },
          container: {
            image: "docker.io/wallabag/wallabag:2.6.10",
            port: 80,
            healthCheck: { path: "/" },
            volumes: [
              { source: data, target: "/var/www/data" },
              { source: media, target: "/var/www/media" },
              { source: scratchVolume, target: "/cache", ephemeral: true },
              { source: media, target: "/srv/media-readonly", readOnly: true },
            ],
          },
        },
      },
    });
    const unit = buildFleetModel(config).hosts[0].operations.services.find((u) => u.name === "homefleet-backup-volumes-app")!;
    const args = unit.execStart[0].args;
    expect(args).toEqual([join(backupDir, "volumes-app"), "30", "volumes-app", "volumes", data, media]);
    expect(unit.requiresMountsFor).toEqual([backupDir, data, media]);
    dir(args[0], 0o700);

    // The container keeps writing while the archive is made: tar reports the change, the run succeeds.
    const growing = join(data, "growing.log");
    writeFileSync(growing, "");
    const writer = spawn("sh", ["-c", `while :; do head -c 65536 /dev/urandom >> "${growing}"; done`]);
    try {
      for (let i = 0; i < 100 && statSync(growing).size === 0; i++) spawnSync("sleep", ["0.05"]);
      const r = exec(installScript(backupConfigScript), args, { env: { HOMEFLEET_TEXTFILE_DIR: textfileDir } });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.stringContaining("some files changed while they were archived") });
    } finally {
      writer.kill("SIGKILL");
    }
    const archives = readdirSync(args[0]).filter((n) => /^volumes-\d{8}_\d{6}\.tar\.gz$/.test(n));
    expect(archives).toHaveLength(1);
    const scratch = dir(join(base, "volumes-restore"), 0o700);
    must(run("tar", ["--extract", "--gzip", "--file", join(args[0], archives[0]), "--directory", scratch]), "tar extract");
    expect(readFileSync(join(scratch, data.slice(1), "app.db"), "utf8")).toBe("rows\n");
    expect(readFileSync(join(scratch, media.slice(1), "cover.jpg"), "utf8")).toBe("jpeg\n");
    expect(existsSync(join(scratch, scratchVolume.slice(1)))).toBe(false);
    expect(metrics("volumes-app").values[series("homefleet_backup_last_status", "volumes-app", "volumes")]).toBe("1");
  });
});

describe("config drill", () => {
  it("archives config and secrets root-only (0600), restores them byte for byte, applies retention, writes metrics", () => {
    const root = join(base, "hostfs");
    const conf = dir(join(root, "etc/homefleet/drill"), 0o755);
    const secrets = dir(join(root, "var/lib/homefleet/secrets/drill"), 0o700);
    writeFileSync(join(conf, "litellm-config.yaml"), "model_list: []\n");
    writeFileSync(join(conf, "redis.conf"), "port 6390\n");
    writeFileSync(join(secrets, "redis-password"), "s3cret-value\n", { mode: 0o400 });
    const dest = dir(join(base, "backup", "config"), 0o700);
    touchAgo(join(dest, "config-20200101_000000.tar.gz"), "40 days ago");
    touchAgo(join(dest, "config-manual.tar.gz"), "40 days ago");

    const r = exec(installScript(backupConfigScript), [dest, "30", "drill_config", "config", conf, secrets], { env: { HOMEFLEET_TEXTFILE_DIR: textfileDir } });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    const fresh = readdirSync(dest).filter((n) => /^config-\d{8}_\d{6}\.tar\.gz$/.test(n));
    expect(fresh).toHaveLength(1);
    expect(readdirSync(dest).sort()).toEqual(["config-manual.tar.gz", fresh[0]].sort());
    const archive = join(dest, fresh[0]);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    expectNoTempLeftovers(dest, textfileDir);

    const scratch = dir(join(base, "config-restore"), 0o700);
    must(run("tar", ["--extract", "--gzip", "--file", archive, "--directory", scratch]), "tar extract");
    const restored = join(scratch, root.slice(1));
    expect(readFileSync(join(restored, "etc/homefleet/drill/litellm-config.yaml"), "utf8")).toBe("model_list: []\n");
    expect(readFileSync(join(restored, "etc/homefleet/drill/redis.conf"), "utf8")).toBe("port 6390\n");
    expect(readFileSync(join(restored, "var/lib/homefleet/secrets/drill/redis-password"), "utf8")).toBe("s3cret-value\n");
    expect(statSync(join(restored, "var/lib/homefleet/secrets/drill/redis-password")).mode & 0o777).toBe(0o400);

    const { values, text } = metrics("drill_config");
    expectHelpAndType(text);
    const s = (name: string) => series(name, "drill_config", "config");
    expect(values[s("homefleet_backup_last_status")]).toBe("1");
    expect(values[s("homefleet_backup_last_size_bytes")]).toBe(String(statSync(archive).size));
  });

  it("a missing path fails the run with status 0 and leaves no archive", () => {
    const dest = join(base, "backup", "config");
    const before = readdirSync(dest).sort();
    const r = exec(installScript(backupConfigScript), [dest, "30", "drill_config", "config", join(base, "does-not-exist")], { env: { HOMEFLEET_TEXTFILE_DIR: textfileDir } });
    expect(r.status).not.toBe(0);
    expect(metrics("drill_config").values[series("homefleet_backup_last_status", "drill_config", "config")]).toBe("0");
    expect(readdirSync(dest).sort()).toEqual(before);
  });
});
