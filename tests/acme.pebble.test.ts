/**
 * The certificate scripts against a real ACME CA: Let's Encrypt's test server pebble (Debian
 * package `pebble`) on loopback, with the real lego client (Debian package `lego`).
 *
 * Challenges are really validated: PEBBLE_VA_ALWAYS_VALID is not set. pebble's VA resolves the
 * test domain through pebble-challtestsrv (shipped in the pebble package) acting as DNS server,
 * which answers every A query with 127.0.0.1 and no AAAA, and fetches
 * http://<domain>:<httpPort>/.well-known/acme-challenge/<token> from lego's own HTTP-01 server,
 * which the script starts on HOMEFLEET_ACME_HTTP_LISTEN. PEBBLE_AUTHZREUSE=0 makes every order,
 * renewals included, validate anew. All ports are free ports picked at start.
 *
 * There is no running systemd here, so the reload goes through the HOMEFLEET_RELOAD_COMMAND
 * test hook, which appends the unit name to a file.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certAcmeScript, certCheckScript, certStepScript, CERTIFICATE_SCRIPTS } from "../render/scripts/certificates";
import { run, shellcheck, type ToolResult } from "./support/validators";

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
  const [acmePort, managementPort, httpPort, tlsPort, dnsPort, challManagementPort] = await Promise.all(Array.from({ length: 6 }, freePort));
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
  it.each(CERTIFICATE_SCRIPTS.map((s) => [s.name, s] as const))("%s passes shellcheck without a single finding", (_name, script) => {
    const result = shellcheck(script.text);
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
    const result = acme(String(daysLeft() + 1), {}, NAME, directory, DOMAIN);
    ok(result);
    expect(result.stdout).toContain(`renewed the certificate for ${DOMAIN}`);
    expect(result.stderr).toContain(`[${DOMAIN}] Served key authentication`);
    expect(serialOf(crt())).not.toBe(before);
    expect(readFileSync(key(), "utf8")).not.toBe(beforeKey);
    expect(openssl("verify", "-CAfile", pebbleRoot, "-untrusted", crt(), crt())).toBe(`${crt()}: OK`);
    expect(openssl("x509", "-noout", "-pubkey", "-in", crt())).toBe(openssl("pkey", "-pubout", "-in", key()));
    expect(hookCalls()).toEqual([UNIT, UNIT, UNIT]);
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

describe("homefleet-cert-step (step-cli is not in Debian: only the paths that do not reach step)", () => {
  const step = (renewDays?: string) =>
    runScript(scripts[certStepScript.name], ["internal", "db.homefleet.test", "https://127.0.0.1:9/", caBundle, join(dir, "step-certs"), "postgresql.service", ...(renewDays ? [renewDays] : [])], env);

  it("records status 0 when there is no certificate and no provisioner for a first issuance", () => {
    const result = step();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("a first issuance needs HOMEFLEET_STEP_PROVISIONER");
    expect(renewalMetrics("internal").status).toBe(0);
    expect(readdirSync(join(dir, "step-certs"))).toEqual([]);
  });

  it("leaves a certificate that is not due alone (RENEW_DAYS), and fails with status 0 when step is needed but missing", () => {
    // Any valid certificate serves: pebble's, installed as if step-ca had issued it.
    const stepDir = join(dir, "step-certs");
    writeFileSync(join(stepDir, "internal.crt"), readFileSync(join(certDir, `${NAME}.crt`)));
    writeFileSync(join(stepDir, "internal.key"), readFileSync(join(certDir, `${NAME}.key`)), { mode: 0o600 });
    const calls = hookCalls().length;
    const quiet = step("30");
    expect({ status: quiet.status, stderr: quiet.stderr }).toEqual({ status: 0, stderr: "" });
    expect(quiet.stdout).toContain("not due for renewal");
    expect(renewalMetrics("internal").status).toBe(1);
    expect(hookCalls()).toHaveLength(calls);

    const due = step("100000");
    expect(due.status).toBe(127);
    expect(due.stderr).toMatch(/step: command not found/);
    expect(renewalMetrics("internal").status).toBe(0);
    expect(readdirSync(stepDir).sort()).toEqual(["internal.crt", "internal.key"]);
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
