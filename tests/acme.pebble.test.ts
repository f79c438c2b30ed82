/**
 * The certificate scripts against a real ACME CA: Let's Encrypt's test server pebble (Debian
 * package `pebble`) on loopback, with the real lego client (Debian package `lego`).
 *
 * Challenges are really validated: PEBBLE_VA_ALWAYS_VALID is not set. pebble's VA resolves the
 * test domain through pebble-challtestsrv (shipped in the pebble package) acting as DNS server,
 * which answers every A query with 127.0.0.1 and no AAAA, and fetches
 * http://<domain>:<httpPort>/.well-known/acme-challenge/<token> from lego's own HTTP-01 server,
 * which the script starts on HOMEFLEET_ACME_HTTP_LISTEN. PEBBLE_AUTHZREUSE=0 makes orders,
 * renewals included, validate anew, but not always: pebble keeps a valid authorization when its
 * draw rand.Intn(100) is not above the percentage, so about 1 order in 100 skips the challenge
 * (it failed the renewal test once in CI): the renewal test renews once more when lego reports
 * the authorization already valid.
 * All ports are free ports picked at start.
 *
 * There is no running systemd here, so the reload goes through the HOMEFLEET_RELOAD_COMMAND
 * test hook, which appends the unit name to a file.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { parseFleetConfig } from "../config/load";
import { certAcmeScript, certCheckScript, CERTIFICATE_SCRIPTS } from "../render/scripts/certificates";
import { hostScriptPath, run, shellcheckFile, type ToolResult } from "./support/validators";

jest.setTimeout(60_000);

const DOMAIN = "app.homefleet.test";
const ALIAS = "www.homefleet.test";
const NAME = "web";
const UNIT = "nginx.service";

const REQUIRED: Record<string, string> = { pebble: "pebble", "pebble-challtestsrv": "pebble", lego: "lego", openssl: "openssl" };

function requireTools(): void {
  const missing = Object.keys(REQUIRED).filter((tool) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", tool]).status !== 0);
  if (missing.length) {
    const packages = [...new Set(missing.map((t) => REQUIRED[t]))].join(" ");
    throw new Error(`${missing.join(", ")} not installed: the ACME test needs the Debian packages "${packages}" (apt-get install -y pebble lego)`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => (socket.destroy(), resolve(false)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.connect(port, "127.0.0.1");
  });
}

async function waitForPort(port: number, what: string, log: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port}:\n${readFileSync(log, "utf8")}`);
}

function fetchHttps(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    }).on("error", reject);
  });
}

/** Runs a script file with extra environment; the servers log to files, so blocking is safe. */
function runScript(file: string, args: readonly string[], env: Record<string, string>): ToolResult {
  const result = spawnSync(file, args, { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, timeout: 45_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function openssl(...args: string[]): string {
  const result = run("openssl", args);
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
}

const serialOf = (file: string) => openssl("x509", "-noout", "-serial", "-in", file);
const notAfterOf = (file: string) => Date.parse(openssl("x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in", file).replace(/^notAfter=(\S+) (\S+)$/, "$1T$2")) / 1000;
const sanOf = (file: string) =>
  openssl("x509", "-noout", "-ext", "subjectAltName", "-in", file)
    .split("\n")[1]
    .split(",")
    .map((s) => s.trim().replace(/^DNS:/, ""))
    .sort();
const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);

let dir: string;
let scripts: Record<string, string>;
let env: Record<string, string>;
let caBundle: string;
/** pebble-challtestsrv's DNS server: every name resolves to 127.0.0.1. */
let dnsPort: number;
let pebbleRoot: string;
let directory: string;
let hookLog: string;
let textfileDir: string;
let certDir: string;
const children: ChildProcess[] = [];

function hookCalls(): string[] {
  return existsSync(hookLog) ? readFileSync(hookLog, "utf8").split("\n").filter(Boolean) : [];
}

function renewalMetrics(name: string): { status: number; timestamp: number; text: string } {
  const text = readFileSync(join(textfileDir, `homefleet_certificate_renewal_${name}.prom`), "utf8");
  const status = text.match(new RegExp(`^homefleet_certificate_last_renewal_status\\{certificate="${name}"\\} ([01])$`, "m"));
  const timestamp = text.match(new RegExp(`^homefleet_certificate_last_renewal_timestamp_seconds\\{certificate="${name}"\\} (\\d+)$`, "m"));
  if (!status || !timestamp) throw new Error(`unexpected renewal metrics:\n${text}`);
  return { status: Number(status[1]), timestamp: Number(timestamp[1]), text };
}

function acme(renewDays: string, extraEnv: Record<string, string> = {}, name = NAME, server = directory, domains = `${DOMAIN},${ALIAS}`): ToolResult {
  return runScript(scripts[certAcmeScript.name], [name, domains, server, "ops@homefleet.test", certDir, UNIT, renewDays, caBundle], { ...env, ...extraEnv });
}

beforeAll(async () => {
  requireTools();
  dir = mkdtempSync(join(tmpdir(), "hf-acme-"));
  scripts = {};
  for (const s of CERTIFICATE_SCRIPTS) {
    scripts[s.name] = join(dir, s.name);
    writeFileSync(scripts[s.name], s.text, { mode: 0o755 });
  }
  const [acmePort, managementPort, httpPort, tlsPort, challManagementPort] = await Promise.all(Array.from({ length: 5 }, freePort));
  dnsPort = await freePort();
  if (new Set([acmePort, managementPort, httpPort, tlsPort, dnsPort, challManagementPort]).size !== 6) throw new Error("port collision, rerun");

  // pebble's own TLS certificate (Debian ships none): self-signed for 127.0.0.1.
  caBundle = join(dir, "pebble-tls.pem");
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=pebble", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", join(dir, "pebble-tls.key"), "-out", caBundle);
  writeFileSync(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: caBundle,
        privateKey: join(dir, "pebble-tls.key"),
        httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );

  const challLog = join(dir, "challtestsrv.log");
  const challFd = openSync(challLog, "a");
  children.push(
    spawn("pebble-challtestsrv", ["-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", `127.0.0.1:${dnsPort}`, "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", `127.0.0.1:${challManagementPort}`], {
      stdio: ["ignore", challFd, challFd],
    }),
  );
  closeSync(challFd);
  await waitForPort(challManagementPort, "pebble-challtestsrv", challLog);

  const pebbleLog = join(dir, "pebble.log");
  const pebbleFd = openSync(pebbleLog, "a");
  children.push(
    spawn("pebble", ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`], {
      stdio: ["ignore", pebbleFd, pebbleFd],
      env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
    }),
  );
  closeSync(pebbleFd);
  await waitForPort(acmePort, "pebble", pebbleLog);
  await waitForPort(managementPort, "pebble (management)", pebbleLog);
  directory = `https://127.0.0.1:${acmePort}/dir`;
  pebbleRoot = join(dir, "pebble-root.pem");
  writeFileSync(pebbleRoot, await fetchHttps(`https://127.0.0.1:${managementPort}/roots/0`, readFileSync(caBundle, "utf8")));

  hookLog = join(dir, "reloads.log");
  const hook = join(dir, "reload-hook");
  writeFileSync(hook, '#!/bin/sh\nif [ -n "$HF_TEST_HOOK_FAIL" ]; then echo "reload failed" >&2; exit 1; fi\nprintf \'%s\\n\' "$1" >>"$HF_TEST_HOOK_LOG"\n', { mode: 0o755 });
  textfileDir = join(dir, "textfile");
  certDir = join(dir, "certs");
  env = {
    HOMEFLEET_TEXTFILE_DIR: textfileDir,
    HOMEFLEET_ACME_STATE_DIR: join(dir, "acme-state"),
    HOMEFLEET_ACME_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    HOMEFLEET_RELOAD_COMMAND: hook,
    HF_TEST_HOOK_LOG: hookLog,
  };
});

afterAll(async () => {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const force = setTimeout(() => child.kill("SIGKILL"), 3000);
          child.once("exit", () => (clearTimeout(force), resolve()));
          child.kill("SIGTERM");
        }),
    ),
  );
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("certificate scripts", () => {
  it.each(CERTIFICATE_SCRIPTS.map((s) => [s.name, s] as const))("%s passes shellcheck as committed, without a single finding", (name) => {
    const result = shellcheckFile(hostScriptPath(name));
    expect({ status: result.status, findings: result.stdout }).toEqual({ status: 0, findings: "" });
  });
});

describe("homefleet-cert-acme against pebble (real HTTP-01 validation)", () => {
  const crt = () => join(certDir, `${NAME}.crt`);
  const key = () => join(certDir, `${NAME}.key`);
  const ok = (result: ToolResult) => expect({ status: result.status, stderr: result.status === 0 ? "" : result.stderr }).toEqual({ status: 0, stderr: "" });
  const daysLeft = () => Math.ceil((notAfterOf(crt()) - Date.now() / 1000) / 86400);

  it("issues a certificate for two names signed by pebble's CA, installs it and reloads the unit once", () => {
    const started = Math.floor(Date.now() / 1000);
    const result = acme("30");
    ok(result);
    expect(result.stdout).toContain(`issued a new certificate for ${DOMAIN},${ALIAS}`);
    // lego's HTTP-01 server answered pebble's validation request, for each name.
    for (const domain of [DOMAIN, ALIAS]) {
      expect(result.stderr).toContain(`[${domain}] Served key authentication`);
      expect(result.stderr).toContain(`[${domain}] The server validated our request`);
    }
    expect(modeOf(crt())).toBe("644");
    expect(modeOf(key())).toBe("600");
    expect(openssl("x509", "-noout", "-subject", "-in", crt())).toBe(`subject=CN = ${DOMAIN}`);
    expect(sanOf(crt())).toEqual([ALIAS, DOMAIN].sort());
    expect(openssl("x509", "-noout", "-issuer", "-in", crt())).toMatch(/^issuer=CN = Pebble Intermediate CA [0-9a-f]+$/);
    // The installed file is the full chain; it verifies up to this pebble instance's root.
    expect(openssl("verify", "-CAfile", pebbleRoot, "-untrusted", crt(), crt())).toBe(`${crt()}: OK`);
    expect(openssl("x509", "-noout", "-pubkey", "-in", crt())).toBe(openssl("pkey", "-pubout", "-in", key()));
    expect(readdirSync(certDir).sort()).toEqual([`${NAME}.crt`, `${NAME}.key`]);

    expect(hookCalls()).toEqual([UNIT]);
    const metrics = renewalMetrics(NAME);
    expect(metrics.status).toBe(1);
    expect(metrics.timestamp).toBeGreaterThanOrEqual(started);
    expect(metrics.timestamp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
  });

  it("does nothing and does not reload when no renewal is due", () => {
    const before = serialOf(crt());
    const result = acme("30");
    ok(result);
    expect(result.stdout).toContain("not due for renewal");
    expect(serialOf(crt())).toBe(before);
    expect(hookCalls()).toEqual([UNIT]);
    expect(renewalMetrics(NAME).status).toBe(1);
  });

  it("issues anew when the names change; a failed reload is a failed run and is retried by the next run", () => {
    const before = serialOf(crt());
    const failed = acme("30", { HF_TEST_HOOK_FAIL: "1" }, NAME, directory, DOMAIN);
    expect(failed.status).not.toBe(0);
    expect(failed.stdout).toContain(`certificate names changed from ${[ALIAS, DOMAIN].sort().join(",")} to ${DOMAIN}: issuing anew`);
    expect(failed.stderr).toContain("reload failed");
    expect(serialOf(crt())).not.toBe(before);
    expect(sanOf(crt())).toEqual([DOMAIN]);
    expect(hookCalls()).toEqual([UNIT]);
    expect(renewalMetrics(NAME).status).toBe(0);

    const retried = acme("30", {}, NAME, directory, DOMAIN);
    ok(retried);
    expect(retried.stdout).toContain("not due for renewal");
    expect(hookCalls()).toEqual([UNIT, UNIT]);
    expect(renewalMetrics(NAME).status).toBe(1);

    const quiet = acme("30", {}, NAME, directory, DOMAIN);
    ok(quiet);
    expect(hookCalls()).toEqual([UNIT, UNIT]);
  });

  it("renews when RENEW_DAYS exceeds the remaining lifetime: new certificate and key, exactly one more reload", () => {
    const before = serialOf(crt());
    const beforeKey = readFileSync(key(), "utf8");
    const renew = () => acme(String(daysLeft() + 1), {}, NAME, directory, DOMAIN);
    let result = renew();
    const reloads = [UNIT, UNIT, UNIT];
    // pebble keeps the valid authorization about 1 order in 100 (header): lego then says so and
    // answers no challenge. That renewal is right too, but not the one this test is about: renew
    // once more (a second draw), and hold that one to every line below.
    const skipped = new RegExp(`\\[${DOMAIN.replace(/\./g, "\\.")}\\] acme: authorization already valid; skipping challenge`, "i");
    if (result.status === 0 && skipped.test(result.stderr)) {
      result = renew();
      reloads.push(UNIT);
    }
    ok(result);
    expect(result.stdout).toContain(`renewed the certificate for ${DOMAIN}`);
    expect(result.stderr).toContain(`[${DOMAIN}] Served key authentication`);
    expect(serialOf(crt())).not.toBe(before);
    expect(readFileSync(key(), "utf8")).not.toBe(beforeKey);
    expect(openssl("verify", "-CAfile", pebbleRoot, "-untrusted", crt(), crt())).toBe(`${crt()}: OK`);
    expect(openssl("x509", "-noout", "-pubkey", "-in", crt())).toBe(openssl("pkey", "-pubout", "-in", key()));
    expect(hookCalls()).toEqual(reloads);
    expect(renewalMetrics(NAME).status).toBe(1);
    expect(readdirSync(certDir).sort()).toEqual([`${NAME}.crt`, `${NAME}.key`]);
  });

  it("records status 0 and exits non-zero when the ACME server is unreachable", async () => {
    const closed = await freePort();
    const result = acme("30", {}, "unreachable", `https://127.0.0.1:${closed}/dir`);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("renewal of certificate unreachable failed");
    expect(renewalMetrics("unreachable").status).toBe(0);
    expect(existsSync(join(certDir, "unreachable.crt"))).toBe(false);
    expect(hookCalls()).toHaveLength(3);
  });

  it("records status 0 for a bad argument, and writes nothing for a bad name", () => {
    const bad = acme("soon", {}, "badargs");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("RENEW_DAYS must be a positive integer");
    expect(renewalMetrics("badargs").status).toBe(0);

    for (const name of ["Web", "a.b", "x y", "renewal_web", ""]) {
      const result = acme("30", {}, name);
      expect({ name, status: result.status }).toEqual({ name, status: 2 });
    }
    expect(readdirSync(textfileDir).sort()).toEqual(["homefleet_certificate_renewal_badargs.prom", "homefleet_certificate_renewal_unreachable.prom", `homefleet_certificate_renewal_${NAME}.prom`]);
  });
});

/**
 * Runs a certificate's renewal unit as homefleet renders it for a Debian host: systemd-sysusers and
 * systemd-tmpfiles create the rendered users and directories under a fresh ROOT (on top of this
 * machine's users and groups, as on a host with PostgreSQL installed), then the script runs with
 * the unit's own arguments and environment, CERT_DIR relocated into ROOT. EXTRA_ARGS go after the
 * rendered ones (the CA bundle for pebble's self-signed TLS certificate).
 */
function runRenderedCertificate(name: string, certificate: Record<string, unknown>, extraArgs: readonly string[] = []): { result: ToolResult; certFile: string; keyFile: string } {
  const config = parseFleetConfig({ hosts: { box: { address: "192.0.2.10", arch: "x86_64", os: "systemd", certificates: { [name]: certificate } } }, stacks: {} });
  const { model, bundles } = renderFleet(config);
  const unit = model.hosts[0].operations.services.find((s) => s.name === `homefleet-cert-${name}`)!;
  const file = (path: string) => bundles[0].files.find((f) => f.path === path)!.content;
  const root = mkdtempSync(join(dir, "root-"));
  chmodSync(dir, 0o755);
  chmodSync(root, 0o755);
  mkdirSync(join(root, "etc"));
  for (const f of ["passwd", "group"]) writeFileSync(join(root, "etc", f), readFileSync(join("/etc", f)));
  writeFileSync(join(root, "sysusers.conf"), file("/etc/sysusers.d/homefleet.conf"));
  const users = run("systemd-sysusers", [`--root=${root}`, join(root, "sysusers.conf")]);
  expect({ status: users.status, stderr: users.stderr.replace(/^Creating group '[a-z-]+' with GID \d+\.\n/gm, "") }).toEqual({ status: 0, stderr: "" });
  writeFileSync(join(root, "tmpfiles.conf"), file("/etc/tmpfiles.d/homefleet-operations.conf"));
  const created = run("systemd-tmpfiles", ["--create", `--root=${root}`, join(root, "tmpfiles.conf")]);
  expect({ status: created.status, stderr: created.stderr }).toEqual({ status: 0, stderr: "" });
  const { args } = unit.execStart[0];
  const certDirAt = join(root, args[4]);
  const result = runScript(scripts[certAcmeScript.name], [...args.slice(0, 4), certDirAt, ...args.slice(5), ...extraArgs], { ...env, ...unit.environment, HOMEFLEET_ACME_STATE_DIR: join(root, "acme") });
  return { result, certFile: join(certDirAt, `${name}.crt`), keyFile: join(certDirAt, `${name}.key`) };
}

describe("a certificate with a group, rendered from config: PostgreSQL serves TLS with its key", () => {
  const DB_DOMAIN = "db.homefleet.test";
  const PG_BIN = join("/usr/lib/postgresql", (existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : ["15"]).sort((a, b) => Number(b) - Number(a))[0], "bin");
  let pgData = "";
  let pgPort = 0;
  let running = false;

  const asPostgres = (cmd: string, args: readonly string[]) => run("runuser", ["-u", "postgres", "--", cmd, ...args]);

  function issue(group?: string): { certFile: string; keyFile: string } {
    // pebble's HTTP-01 validation goes to the port lego listens on in this test.
    const certificate = { domains: [DB_DOMAIN], issuer: "acme", acme: { email: "ops@homefleet.test", server: directory, httpPort: Number(env.HOMEFLEET_ACME_HTTP_LISTEN.split(":")[1]) }, reloadUnit: "postgresql.service", ...(group ? { group } : {}) };
    // pebble's own TLS certificate is self-signed: the test trusts it as CA_BUNDLE.
    const { result, ...files } = runRenderedCertificate("db", certificate, [caBundle]);
    expect({ status: result.status, stderr: result.status === 0 ? "" : result.stderr }).toEqual({ status: 0, stderr: "" });
    return files;
  }

  function startPostgres(files: { certFile: string; keyFile: string }) {
    return asPostgres(join(PG_BIN, "pg_ctl"), ["-D", pgData, "-l", join(pgData, "..", "log"), "-w", "-t", "20", "-o", `-c ssl=on -c ssl_cert_file=${files.certFile} -c ssl_key_file=${files.keyFile}`, "start"]);
  }

  beforeAll(async () => {
    pgPort = await freePort();
    const pgDir = mkdtempSync(join(tmpdir(), "hf-pg-tls-"));
    chmodSync(pgDir, 0o755);
    run("chown", ["postgres:postgres", pgDir]);
    pgData = join(pgDir, "data");
    const init = asPostgres(join(PG_BIN, "initdb"), ["-D", pgData, "-U", "postgres", "--auth-local=peer", "--auth-host=trust", "--locale=C", "--no-sync"]);
    if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`);
    writeFileSync(join(pgData, "postgresql.conf"), `${readFileSync(join(pgData, "postgresql.conf"), "utf8")}\nlisten_addresses = '127.0.0.1'\nport = ${pgPort}\nunix_socket_directories = '${pgDir}'\nfsync = off\n`);
  });

  afterAll(() => {
    if (running) asPostgres(join(PG_BIN, "pg_ctl"), ["-D", pgData, "-m", "immediate", "-w", "-t", "20", "stop"]);
    if (pgData) rmSync(join(pgData, ".."), { recursive: true, force: true });
  });

  it("without a group the directory and key are root's alone, and PostgreSQL cannot start with them", () => {
    const files = issue();
    expect(modeOf(files.keyFile)).toBe("600");
    const start = startPostgres(files);
    expect(start.status).not.toBe(0);
    expect(readFileSync(join(pgData, "..", "log"), "utf8")).toMatch(/FATAL: +could not load server certificate file ".*\/db\.crt": Permission denied/);
  });

  it("with group postgres the directory is setgid, the key 0640 of that group, and PostgreSQL serves TLS for the certificate's name", () => {
    const files = issue("postgres");
    const postgresGid = Number(run("id", ["-g", "postgres"]).stdout.trim());
    expect((statSync(join(files.keyFile, "..")).mode & 0o7777).toString(8)).toBe("2750");
    expect({ mode: modeOf(files.keyFile), uid: statSync(files.keyFile).uid, gid: statSync(files.keyFile).gid }).toEqual({ mode: "640", uid: 0, gid: postgresGid });
    expect(startPostgres(files).status).toBe(0);
    running = true;
    // verify-full: the server's certificate chains to pebble's root and names DB_DOMAIN.
    const conninfo = `host=${DB_DOMAIN} hostaddr=127.0.0.1 port=${pgPort} user=postgres dbname=postgres sslmode=verify-full sslrootcert=${pebbleRoot}`;
    const query = run(join(PG_BIN, "psql"), ["-X", "-At", conninfo, "-c", "select ssl from pg_stat_ssl where pid = pg_backend_pid()"]);
    expect({ status: query.status, out: query.stdout.trim(), err: query.stderr }).toEqual({ status: 0, out: "t", err: "" });
  });
});

describe("a step-ca certificate rendered from config, issued by a real step-ca through its ACME provisioner", () => {
  const NAMES = ["ca-app.homefleet.test", "ca-www.homefleet.test"];
  let caDir = "";
  let caUrl = "";
  let caRoot = "";
  let legoPort = 0;

  beforeAll(async () => {
    // Debian has no step-ca: tools/step-ca/build.sh builds the pinned release from its Go module
    // (.ci/run does so before the tests; cached outside the checkout).
    const build = spawnSync("bash", [join(__dirname, "..", "tools", "step-ca", "build.sh")], { encoding: "utf8" });
    if (build.status !== 0) throw new Error(`tools/step-ca/build.sh failed:\n${build.stderr}`);
    const stepCa = join(build.stdout.trim().split("\n").pop()!, "step-ca");
    caDir = join(dir, "step-ca");
    mkdirSync(caDir);
    caRoot = join(caDir, "root_ca.crt");
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=homefleet test root", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", join(caDir, "root_ca.key"), "-out", caRoot);
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=homefleet test intermediate", "-keyout", join(caDir, "intermediate_ca.key"), "-out", join(caDir, "intermediate.csr"));
    writeFileSync(join(caDir, "ext.cnf"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n");
    openssl("x509", "-req", "-in", join(caDir, "intermediate.csr"), "-CA", caRoot, "-CAkey", join(caDir, "root_ca.key"), "-CAcreateserial", "-days", "2", "-extfile", join(caDir, "ext.cnf"), "-out", join(caDir, "intermediate_ca.crt"));
    const [caPort, challengePort] = await Promise.all([freePort(), freePort()]);
    legoPort = challengePort;
    caUrl = `https://127.0.0.1:${caPort}`;
    writeFileSync(
      join(caDir, "ca.json"),
      JSON.stringify({
        root: caRoot,
        crt: join(caDir, "intermediate_ca.crt"),
        key: join(caDir, "intermediate_ca.key"),
        address: `127.0.0.1:${caPort}`,
        dnsNames: ["127.0.0.1"],
        db: { type: "badgerv2", dataSource: join(caDir, "db") },
        logger: { format: "text" },
        // 90-day certificates, like Let's Encrypt's: renewBeforeDays (30) then means what it says.
        authority: { provisioners: [{ type: "ACME", name: "acme", claims: { defaultTLSCertDuration: "2160h", maxTLSCertDuration: "2160h" } }] },
      }),
    );
    const log = join(caDir, "step-ca.log");
    const fd = openSync(log, "a");
    // --insecure only unlocks --acme-http-port: the CA validates HTTP-01 on the test's port
    // instead of 80; names resolve through pebble-challtestsrv to 127.0.0.1.
    children.push(spawn(stepCa, ["--insecure", "--acme-http-port", String(legoPort), "--resolver", `127.0.0.1:${dnsPort}`, join(caDir, "ca.json")], { stdio: ["ignore", fd, fd] }));
    closeSync(fd);
    await waitForPort(caPort, "step-ca", log);
  }, 300_000);

  const certificate = () => ({ domains: NAMES, issuer: "step-ca", stepCa: { url: caUrl, rootCert: caRoot, httpPort: legoPort }, group: "postgres" });

  it("requests every name, chains to the CA's root, and gives the key to the certificate's group", () => {
    const { result, certFile, keyFile } = runRenderedCertificate("internal", certificate());
    expect({ status: result.status, stderr: result.status === 0 ? "" : result.stderr }).toEqual({ status: 0, stderr: "" });
    expect(result.stdout).toContain(`issued a new certificate for ${NAMES.join(",")}`);
    for (const name of NAMES) expect(result.stderr).toContain(`[${name}] The server validated our request`);
    expect(sanOf(certFile)).toEqual(NAMES);
    expect(openssl("x509", "-noout", "-issuer", "-in", certFile)).toBe("issuer=CN = homefleet test intermediate");
    expect(openssl("verify", "-CAfile", caRoot, "-untrusted", certFile, certFile)).toBe(`${certFile}: OK`);
    expect(openssl("x509", "-noout", "-pubkey", "-in", certFile)).toBe(openssl("pkey", "-pubout", "-in", keyFile));
    expect(Math.round((notAfterOf(certFile) - Date.now() / 1000) / 86400)).toBe(90);
    expect({ mode: modeOf(keyFile), gid: statSync(keyFile).gid }).toEqual({ mode: "640", gid: Number(run("id", ["-g", "postgres"]).stdout.trim()) });
  });
});

describe("homefleet-cert-check", () => {
  it("writes the expiry metric with the certificate's notAfter", () => {
    const crt = join(certDir, `${NAME}.crt`);
    const result = runScript(scripts[certCheckScript.name], [NAME, crt, "acme"], env);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
    const expiry = notAfterOf(crt);
    expect(Number.isInteger(expiry)).toBe(true);
    expect(readFileSync(join(textfileDir, `homefleet_certificate_${NAME}.prom`), "utf8")).toBe(
      [
        "# HELP homefleet_certificate_expiry_timestamp_seconds Unix time the certificate expires (notAfter).",
        "# TYPE homefleet_certificate_expiry_timestamp_seconds gauge",
        `homefleet_certificate_expiry_timestamp_seconds{certificate="${NAME}",issuer="acme"} ${expiry}`,
        "",
      ].join("\n"),
    );
    expect(modeOf(join(textfileDir, `homefleet_certificate_${NAME}.prom`))).toBe("644");
    expect(readdirSync(textfileDir).filter((f) => !f.endsWith(".prom"))).toEqual([]);
  });

  it("still writes the metric for an expired certificate, and fails", () => {
    const ca = join(dir, "expired");
    mkdirSync(ca);
    writeFileSync(join(ca, "index.txt"), "");
    writeFileSync(join(ca, "serial"), "01\n");
    writeFileSync(join(ca, "ca.cnf"), `[ca]\ndefault_ca=d\n[d]\ndatabase=${ca}/index.txt\nnew_certs_dir=${ca}\nserial=${ca}/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n`);
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", join(ca, "key.pem"));
    openssl("req", "-new", "-key", join(ca, "key.pem"), "-subj", "/CN=expired.homefleet.test", "-out", join(ca, "req.csr"));
    openssl("ca", "-batch", "-config", join(ca, "ca.cnf"), "-selfsign", "-keyfile", join(ca, "key.pem"), "-in", join(ca, "req.csr"), "-out", join(ca, "cert.pem"), "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext");

    const result = runScript(scripts[certCheckScript.name], ["old", join(ca, "cert.pem"), "step-ca"], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("has expired");
    expect(readFileSync(join(textfileDir, "homefleet_certificate_old.prom"), "utf8")).toContain('homefleet_certificate_expiry_timestamp_seconds{certificate="old",issuer="step-ca"} 1577923200\n');
  });

  it("fails without writing a metric for a missing certificate, a bad JOB or a bad name", () => {
    const missing = runScript(scripts[certCheckScript.name], ["gone", join(dir, "nope.crt"), "acme"], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("cannot read a certificate");
    const crt = join(certDir, `${NAME}.crt`);
    expect(runScript(scripts[certCheckScript.name], ["other", crt, "letsencrypt"], env).status).toBe(2);
    expect(runScript(scripts[certCheckScript.name], ["Bad", crt, "acme"], env).status).toBe(2);
    for (const name of ["gone", "other", "Bad"]) expect(existsSync(join(textfileDir, `homefleet_certificate_${name}.prom`))).toBe(false);
  });
});
