/**
 * homefleet under the real Pulumi engine: the Pulumi CLI (tools/pulumi-toolchain) runs the
 * program from this checkout with a file backend, against two real test hosts. Each test is one
 * thing a user does, in order: preview, up, a one-value change, a hand edit and refresh, a failing
 * health check, --target, an interrupted up, destroy.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { diagnostics, PulumiProject } from "./support/pulumiCli";

const STACK = "e2e";
let alpha: TestHost;
let beta: TestHost;
let project: PulumiProject;

/** A canary among the config secrets: a LiteLLM provider key, set with `config set --secret`. */
const CANARY = `CANARY${Date.now().toString(36)}X9`;

function stack(host: TestHost, subnet: string, change: (s: Record<string, any>) => void = () => undefined): Record<string, unknown> {
  const s: Record<string, any> = {
    host: host.name,
    kind: "litellm",
    network: { subnet },
    container: { image: "localhost/homefleet-standin:1", memoryMax: "512M", healthCheck: { path: "/health/readiness", timeoutSec: 60, intervalSec: 1 } },
    database: {},
    cache: { port: 6380 },
    litellm: { models: [{ name: "local", model: "ollama/llama3.1:8b", apiBase: "http://10.89.0.1:11434", apiKeyConfig: "providerKey" }] },
  };
  change(s);
  return s;
}

type Change = (s: Record<string, any>) => void;

/** What a user reads, kept from this run for the README (`.tmp/engine-previews/`). */
function keep(name: string, text: string): void {
  const dir = join(__dirname, "..", ".tmp", "engine-previews");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.txt`), text);
}

/** eng-a names its host key in config; eng-b does not: its key is pinned in state at first contact. */
function config(changes: { alpha?: Change; beta?: Change; betaHostKey?: string } = {}): Record<string, unknown> {
  const host = (h: TestHost, hostKey?: string) => ({ address: h.address, arch: "x86_64", os: "systemd", ...(hostKey ? { hostKey } : {}), podman: { cgroups: "disabled" } });
  return {
    "homefleet:hosts": { [alpha.name]: host(alpha, alpha.hostKey), [beta.name]: host(beta, changes.betaHostKey) },
    "homefleet:stacks": { first: stack(alpha, "10.89.0.0/24", changes.alpha), second: stack(beta, "10.89.0.0/24", changes.beta) },
    "homefleet:deploy": { healthTimeoutSec: 45, healthSoakSec: 5, confirmAfterSec: 120 },
  };
}

beforeAll(async () => {
  alpha = bootHost("eng-a", 21);
  beta = bootHost("eng-b", 22);
  project = new PulumiProject("engine");
  await project.initStack(STACK, config(), alpha.keyFile);
  await project.ok(["config", "set", "--stack", STACK, "--secret", "homefleet:providerKey"], { stdin: CANARY });
});

afterAll(() => {
  // No output of any pulumi command in this file printed the canary.
  const leaks = (project?.runs ?? []).filter((r) => (r.stdout + r.stderr).includes(CANARY)).map((r) => r.args.join(" "));
  expect(leaks).toEqual([]);
  stopHost("eng-a");
  stopHost("eng-b");
  for (const r of project?.runs ?? []) console.log(`pulumi ${r.args.join(" ")}: exit ${r.code ?? r.signal} in ${r.seconds.toFixed(1)} s`);
  project?.cleanup();
});

describe("the real Pulumi engine", () => {
  it("preview of a fresh stack lists every host deployment and stack component", async () => {
    const r = await project.ok(["preview", "--stack", STACK, "--color", "never"]);
    for (const line of [
      /\+\s+homefleet:host:FleetHost\s+eng-a\s+create/,
      /\+\s+homefleet:host:FleetHost\s+eng-b\s+create/,
      /\+\s+homefleet:stack:ServiceStack\s+first\s+create/,
      /\+\s+homefleet:stack:ServiceStack\s+second\s+create/,
      /\+\s+pulumi-nodejs:dynamic\/homefleet:HostDeployment\s+eng-a-deployment\s+create/,
      /\+\s+pulumi-nodejs:dynamic\/homefleet:HostDeployment\s+eng-b-deployment\s+create/,
      /\+\s+pulumi-nodejs:dynamic\/homefleet:HostPackages\s+eng-a-packages\s+create/,
    ]) {
      expect(r.stdout).toMatch(line);
    }
  });

  it("invalid config stops the preview with homefleet's message naming the config path, and no stack trace", async () => {
    project.setConfig(STACK, config({ alpha: (s) => (s.cache.port = "40o0") }));
    const r = await project.run(["preview", "--stack", STACK, "--color", "never"]);
    project.setConfig(STACK, config());
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("invalid homefleet configuration:");
    expect(r.stdout).toMatch(/homefleet:stacks\.first\.cache\.port: .*"40o0"/);
    expect(r.stdout).not.toMatch(/\n\s+at .+\(.+\.(js|ts):\d+:\d+\)/);
    expect(r.stdout).not.toMatch(/\+\s+pulumi-nodejs/);
  });

  it("a blocking review finding stops the preview with the finding, and no stack trace", async () => {
    // The node exporter listens on 127.0.0.1:9100 already.
    project.setConfig(STACK, config({ alpha: (s) => (s.container.publish = { hostPort: 9100 }) }));
    const r = await project.run(["preview", "--stack", STACK, "--color", "never"]);
    project.setConfig(STACK, config());
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/homefleet review found 1 error\(s\):\n\s+\[error\] port-clash homefleet:hosts\.eng-a: .*9100/);
    expect(r.stdout).not.toMatch(/\n\s+at .+\(.+\.(js|ts):\d+:\d+\)/);
  });

  it("a misspelt key and a provider key in plain text stop the preview, each naming the fix", async () => {
    await project.ok(["config", "set", "--stack", STACK, "homefleet:promotFrom", "staging"]);
    await project.ok(["config", "set", "--stack", STACK, "homefleet:providerKey", "not-a-secret"]);
    const r = await project.run(["preview", "--stack", STACK, "--color", "never"]);
    await project.ok(["config", "rm", "--stack", STACK, "homefleet:promotFrom"]);
    await project.ok(["config", "set", "--stack", STACK, "--secret", "homefleet:providerKey"], { stdin: CANARY });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/homefleet:promotFrom: unknown key; did you mean homefleet:promoteFrom\?/);
    expect(r.stdout).toContain("homefleet:providerKey: holds a secret but is stored in plain text: set it again with pulumi config set --secret homefleet:providerKey < FILE");
    expect(r.stdout).not.toMatch(/\+\s+pulumi-nodejs/);
  });

  it("a first up --target of one host's packages: the generated secrets it skips leave the program running, nothing else is created", async () => {
    // The host's component and its packages (a child cannot be created without its parent).
    const host = "urn:pulumi:e2e::homefleet::homefleet:host:FleetHost::eng-a";
    const packages = "urn:pulumi:e2e::homefleet::homefleet:host:FleetHost$pulumi-nodejs:dynamic/homefleet:HostPackages::eng-a-packages";
    const up = await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never", "--target", host, "--target", packages]);
    expect(`${up.stdout}${up.stderr}`).not.toMatch(/SecretCompositionError|unhandled/i);
    expect(up.stdout).toMatch(/eng-a-packages\s+created/);
    expect(up.stdout).not.toMatch(/HostDeployment\s+eng-[ab]-deployment\s+created/);
  });

  it("up deploys both hosts; stack output release shows each host's verdict and generation", async () => {
    const eventLog = join(project.dir, "first-up.events.jsonl");
    // --event-log exists when PULUMI_DEBUG_COMMANDS is set: the engine's own record of every event.
    await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never", "--event-log", eventLog], { env: { PULUMI_DEBUG_COMMANDS: "true" } });
    // Each host's steps reached the engine while they happened: ephemeral info for its deployment resource.
    const events = readFileSync(eventLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { diagnosticEvent?: { urn?: string; message: string; severity: string; ephemeral?: boolean } });
    for (const h of [alpha, beta]) {
      const steps = events
        .map((e) => e.diagnosticEvent)
        .filter((d) => d?.ephemeral && d.severity === "info" && d.urn?.endsWith(`$pulumi-nodejs:dynamic/homefleet:HostDeployment::${h.name}-deployment`))
        .map((d) => d!.message.trim());
      expect(steps[0]).toBe(`connecting to ${h.address}:22`);
      const order = ["pulling ", "uploading generation 1: ", "switching to generation 1", "health round 1: ", "healthy: confirming generation 1"].map((prefix) => steps.findIndex((m) => m.startsWith(prefix)));
      expect({ host: h.name, order: order.map((i) => i >= 0), increasing: order.every((i, k) => k === 0 || i > order[k - 1]) }).toEqual({ host: h.name, order: [true, true, true, true, true], increasing: true });
    }
    const out = await project.outputs(STACK);
    expect(out.release.hosts[alpha.name]).toMatchObject({ generation: 1, verdict: "healthy" });
    expect(out.release.hosts[beta.name]).toMatchObject({ generation: 1, verdict: "healthy" });
    for (const h of [alpha, beta]) expect(onHost(h, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4000/health/readiness").stdout).toBe("200");
  });

  it("keeps generated secrets and the SSH key encrypted in the state file and in stack export", async () => {
    const state = readFileSync(project.stateFile(STACK), "utf8");
    const exported = (await project.ok(["stack", "export", "--stack", STACK])).stdout;
    const password = onHost(alpha, "cat /var/lib/homefleet/secrets/first/database-password").stdout.trim();
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const key = readFileSync(alpha.keyFile, "utf8").split("\n")[1];
    for (const text of [state, exported]) {
      expect(text.includes(password)).toBe(false);
      expect(text.includes(key)).toBe(false);
    }
    // The config secret reached the host, root-only, and nothing else holds it in plaintext.
    expect(onHost(alpha, "cat /var/lib/homefleet/secrets/first/container.env").stdout).toContain(CANARY);
    expect(readFileSync(project.stackFile(STACK), "utf8")).not.toContain(CANARY);
    for (const text of [state, exported]) expect(text.includes(CANARY)).toBe(false);
    // The secret envelopes are there, with ciphertext in place of the values.
    expect(state.includes('"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","ciphertext":"v1:')).toBe(true);
  });

  it("the state holds each dynamic resource's provider exactly as the build serialized it (hosts/prebuiltProvider.ts)", async () => {
    const deployment = JSON.parse((await project.ok(["stack", "export", "--stack", STACK])).stdout) as { deployment: { resources: { type: string; inputs?: { __provider?: string } & Record<string, unknown>; outputs?: Record<string, unknown> }[] } };
    const providerFiles: Record<string, string> = { HostDeployment: "hostDeploymentProvider", HostPackages: "hostPackagesProvider", GeneratedSecret: "generatedSecretProvider" };
    const found = deployment.deployment.resources
      .filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/homefleet:"))
      .map((r) => {
        const type = r.type.replace(/^.*:/, "");
        const built = readFileSync(join(__dirname, "..", "dist", "providers", `${providerFiles[type]}.serialized.js`), "utf8");
        return { type, asBuilt: r.inputs?.__provider === built };
      });
    expect(new Set(found.map((f) => f.type))).toEqual(new Set(Object.keys(providerFiles)));
    expect(found.filter((f) => !f.asBuilt)).toEqual([]);
    // Each host's rendered files are kept once, in the deployment's inputs: its outputs hold their hashes only.
    const deployments = deployment.deployment.resources.filter((r) => r.type.endsWith("homefleet:HostDeployment"));
    expect(deployments).toHaveLength(2);
    for (const { inputs, outputs } of deployments) {
      expect(Object.keys(inputs?.files as object).length).toBeGreaterThan(5);
      expect(Object.keys(outputs ?? {})).not.toContain("files");
      expect(Object.keys(outputs?.fileHashes as object).sort()).toEqual(Object.keys(inputs?.files as object).sort());
    }
  });

  it("a one-value change: preview --diff names the host and the file; up deploys that host and leaves the other alone", async () => {
    project.setConfig(STACK, config({ alpha: (s) => (s.cache.maxMemory = "96mb") }));
    const plain = await project.ok(["preview", "--stack", STACK, "--color", "never"]);
    keep("one-value-change", plain.stdout);
    expect(plain.stdout).toMatch(/~\s+pulumi-nodejs:dynamic\/homefleet:HostDeployment\s+eng-a-deployment\s+update\s+\[diff: ~fileHashes,files,manifest\]/);
    const preview = await project.ok(["preview", "--stack", STACK, "--diff", "--color", "never"]);
    keep("one-value-change-diff", preview.stdout);
    expect(preview.stdout).toMatch(/~\s+pulumi-nodejs:dynamic\/homefleet:HostDeployment: \(update\)\s*\n\s*\[id=eng-a\]/);
    expect(preview.stdout).toContain("/etc/homefleet/first/redis.conf");
    expect(preview.stdout).not.toContain("eng-b-deployment");
    const logins = () => Number(onHost(beta, "journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey'").stdout.trim());
    const betaLogins = logins();
    const up = await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"]);
    expect(up.stdout).toMatch(/~\s+pulumi-nodejs:dynamic\/homefleet:HostDeployment\s+eng-a-deployment\s+updated/);
    expect(up.stdout).toMatch(/1 updated/);
    // Only the test's own login (the count itself) reached eng-b, none from the deployer.
    expect(logins()).toBe(betaLogins + 1);
    expect(onHost(alpha, "grep '^maxmemory ' /etc/homefleet/first/redis.conf").stdout.trim()).toBe("maxmemory 96mb");
    expect((await project.outputs(STACK)).release.hosts[alpha.name]).toMatchObject({ generation: 2, verdict: "healthy" });
  });

  it("a hand edit on a host: preview --refresh and refresh show the drifted file; the next up repairs it", async () => {
    onHost(alpha, "echo 'maxmemory 1gb' >> /etc/homefleet/first/redis.conf");
    const plain = await project.ok(["preview", "--stack", STACK, "--refresh", "--color", "never"]);
    keep("drift", plain.stdout);
    const preview = await project.ok(["preview", "--stack", STACK, "--refresh", "--diff", "--color", "never"]);
    keep("drift-diff", preview.stdout);
    expect(preview.stdout).toContain("/etc/homefleet/first/redis.conf");
    const refresh = await project.ok(["refresh", "--stack", STACK, "--yes", "--diff", "--color", "never"]);
    expect(refresh.stdout).toContain("/etc/homefleet/first/redis.conf");
    const up = await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"]);
    expect(up.stdout).toMatch(/~\s+pulumi-nodejs:dynamic\/homefleet:HostDeployment\s+eng-a-deployment\s+updated/);
    expect(onHost(alpha, "grep -c '^maxmemory 1gb' /etc/homefleet/first/redis.conf").stdout.trim()).toBe("0");
    const clean = await project.ok(["preview", "--stack", STACK, "--refresh", "--expect-no-changes", "--color", "never"]);
    expect(clean.stdout).not.toContain("redis.conf");
  });

  it("a failing health check: up exits non-zero naming host, check and journal; the host serves the previous generation; a fix deploys", async () => {
    project.setConfig(STACK, config({ alpha: (s) => ((s.cache.maxMemory = "96mb"), (s.container.healthCheck = { path: "/no-such-endpoint", timeoutSec: 10, intervalSec: 1 })) }));
    const failed = await project.run(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"]);
    expect(failed.code).not.toBe(0);
    const text = failed.stdout + failed.stderr;
    expect(text).toMatch(/host eng-a: generation 3 failed its health check "podman-first.service: GET http:\/\/127.0.0.1:4000\/no-such-endpoint"/);
    expect(text).toContain("rolled back to generation 2");
    expect(text).toContain("last journal lines of podman-first.service");
    expect(text).not.toMatch(/\n\s+at .+\(.+\.(js|ts):\d+:\d+\)/); // no stack trace
    expect(onHost(alpha, "cat /var/lib/homefleet/state").stdout.trim()).toBe("confirmed 2 2");
    expect(onHost(alpha, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4000/health/readiness").stdout).toBe("200");
    project.setConfig(STACK, config({ alpha: (s) => (s.cache.maxMemory = "64mb") }));
    await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"]);
    expect((await project.outputs(STACK)).release.hosts[alpha.name]).toMatchObject({ verdict: "healthy" });
    expect(onHost(alpha, "grep '^maxmemory ' /etc/homefleet/first/redis.conf").stdout.trim()).toBe("maxmemory 64mb");
  });

  it("up --target of one host deploys that host only", async () => {
    project.setConfig(STACK, config({ alpha: (s) => (s.cache.maxMemory = "48mb"), beta: (s) => (s.cache.maxMemory = "48mb") }));
    const urn = "urn:pulumi:e2e::homefleet::homefleet:host:FleetHost$pulumi-nodejs:dynamic/homefleet:HostDeployment::eng-b-deployment";
    const up = await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never", "--target", urn]);
    expect(up.stdout).toMatch(/eng-b-deployment\s+updated/);
    expect(up.stdout).not.toContain("eng-a-deployment");
    expect(onHost(beta, "grep '^maxmemory ' /etc/homefleet/second/redis.conf").stdout.trim()).toBe("maxmemory 48mb");
    expect(onHost(alpha, "grep '^maxmemory ' /etc/homefleet/first/redis.conf").stdout.trim()).toBe("maxmemory 64mb");
    // eng-a's change is still to come.
    const preview = await project.ok(["preview", "--stack", STACK, "--color", "never"]);
    expect(preview.stdout).toMatch(/~\s+pulumi-nodejs:dynamic\/homefleet:HostDeployment\s+eng-a-deployment\s+update/);
    expect(preview.stdout).not.toMatch(/eng-b-deployment\s+update/);
  });

  it("an up interrupted mid-deploy (SIGINT twice: stop now): refresh shows what the host runs; the next up completes and confirms", async () => {
    let interrupted = false;
    const run = await project.run(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"], {
      onStdout: (chunk, child) => {
        if (interrupted || !/eng-a-deployment updating/.test(chunk)) return;
        interrupted = true;
        // Inside the deployment: the upload and switch take a second or two, the health gate longer.
        setTimeout(() => {
          child.kill("SIGINT");
          setTimeout(() => child.kill("SIGINT"), 300);
        }, 1500);
      },
    });
    expect(interrupted).toBe(true);
    expect(run.code).not.toBe(0);
    console.log(`after the interrupt eng-a is ${onHost(alpha, "cat /var/lib/homefleet/state").stdout.trim()} (phase, current, confirmed), revert timer ${onHost(alpha, "systemctl is-active homefleet-confirm.timer").stdout.trim()}`);
    const refresh = await project.run(["refresh", "--stack", STACK, "--yes", "--color", "never"]);
    expect({ code: refresh.code, why: refresh.code === 0 ? "" : diagnostics(refresh) }).toEqual({ code: 0, why: "" });
    // The state now says what the host runs.
    const state = JSON.parse(readFileSync(project.stateFile(STACK), "utf8"));
    const deployment = state.checkpoint.latest.resources.find((r: { urn: string }) => r.urn.endsWith("::eng-a-deployment"));
    const running = Number(onHost(alpha, "cat /var/lib/homefleet/state").stdout.trim().split(" ")[1]);
    expect(deployment.outputs.generation).toBe(running);
    await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"]);
    expect(onHost(alpha, "grep '^maxmemory ' /etc/homefleet/first/redis.conf").stdout.trim()).toBe("maxmemory 48mb");
    expect(onHost(alpha, "systemctl is-active homefleet-confirm.timer").stdout.trim()).not.toBe("active");
    expect((await project.outputs(STACK)).release.hosts[alpha.name]).toMatchObject({ verdict: "healthy" });
  });

  it("packages: a package removed by hand shows on refresh, and up installs it again with apt-get", async () => {
    // A local apt repository on the host with the package, instead of a mirror it cannot reach.
    const debs = join(process.env.HOMEFLEET_E2E_CACHE ?? "/var/cache/homefleet-e2e", "debs");
    const deb = readdirSync(debs).find((f) => /^postgresql-client_.*\.deb$/.test(f))!;
    expect(deb).toBeDefined();
    const repo = "/srv/homefleet-e2e-repo";
    expect(onHost(alpha, `mkdir -p ${repo} && cat > ${repo}/${deb}`, readFileSync(join(debs, deb))).status).toBe(0);
    const index = onHost(
      alpha,
      `cd ${repo} && { dpkg-deb -f ${deb}; echo "Filename: ./${deb}"; echo "Size: $(stat -c %s ${deb})"; echo "SHA256: $(sha256sum ${deb} | cut -d' ' -f1)"; echo; } > Packages && ` +
        `echo 'deb [trusted=yes] file:${repo} ./' > /etc/apt/sources.list && dpkg -r postgresql-client`,
    );
    expect(index.status).toBe(0);
    const refresh = await project.ok(["preview", "--stack", STACK, "--refresh", "--diff", "--color", "never"]);
    expect(refresh.stdout).toMatch(/~ postgresql-client\s*: "[^"]+" => "missing"/);
    expect(refresh.stdout).toMatch(/~\s+pulumi-nodejs:dynamic\/homefleet:HostPackages: \(update\)/);
    await project.ok(["up", "--stack", STACK, "--yes", "--refresh", "--skip-preview", "--color", "never"]);
    expect(onHost(alpha, "dpkg-query -W -f '${db:Status-Abbrev}' postgresql-client").stdout.trim()).toBe("ii");
    const installed = JSON.parse(readFileSync(project.stateFile(STACK), "utf8")).checkpoint.latest.resources.find((r: { urn: string }) => r.urn.endsWith("::eng-a-packages")).outputs.installed;
    expect(installed["postgresql-client"]).toMatch(/^\d/);
  });

  it("a re-keyed host: the key pinned in state at first contact refuses it, naming the fix; the new key in config accepts it", async () => {
    const resourceOf = (name: string) => JSON.parse(readFileSync(project.stateFile(STACK), "utf8")).checkpoint.latest.resources.find((r: { urn: string }) => r.urn.endsWith(`::${name}`));
    expect(resourceOf("eng-b-deployment").outputs.hostKey).toBe(beta.hostKey);
    // The test host's key is a read-only bind mount: the new key goes beside it, and sshd is pointed at it.
    const newKey = onHost(
      beta,
      "ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/rekeyed_ed25519_key && sed -i 's|^HostKey .*|HostKey /etc/ssh/rekeyed_ed25519_key|' /etc/ssh/sshd_config.d/homefleet-e2e.conf && systemctl restart ssh && cut -d' ' -f1,2 /etc/ssh/rekeyed_ed25519_key.pub",
    ).stdout.trim();
    expect(newKey).toMatch(/^ssh-ed25519 AAAA/);
    writeFileSync(beta.knownHosts, `${beta.address} ${newKey}\n`);
    const refused = await project.run(["refresh", "--stack", STACK, "--yes", "--color", "never"]);
    expect(refused.code).not.toBe(0);
    keep("rekeyed-refresh", diagnostics(refused));
    expect(diagnostics(refused)).toContain("host eng-b: the host key changed since homefleet first connected");
    expect(diagnostics(refused)).toContain(`set homefleet:hosts.eng-b.hostKey to "${newKey}"`);
    project.setConfig(STACK, config({ alpha: (s) => (s.cache.maxMemory = "48mb"), beta: (s) => (s.cache.maxMemory = "48mb"), betaHostKey: newKey }));
    await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"]);
    expect(resourceOf("eng-b-deployment").outputs.hostKey).toBe(newKey);
    await project.ok(["refresh", "--stack", STACK, "--yes", "--color", "never"]);
  });

  it("destroy removes homefleet's units and files from both hosts and keeps the data", async () => {
    await project.ok(["destroy", "--stack", STACK, "--yes", "--color", "never"]);
    for (const [h, stackName] of [[alpha, "first"], [beta, "second"]] as const) {
      expect(onHost(h, `test -e /etc/systemd/system/podman-${stackName}.service; echo $?`).stdout.trim()).toBe("1");
      expect(onHost(h, `systemctl is-active podman-${stackName}.service redis-${stackName}.service`).stdout).not.toMatch(/^active$/m);
      expect(onHost(h, `test -d /var/lib/redis-${stackName} && test -d /var/lib/postgresql/15/main && echo kept`).stdout.trim()).toBe("kept");
      expect(onHost(h, "ls -d /etc/homefleet /usr/local/lib/homefleet /var/lib/homefleet/generations 2>&1 | grep -c 'No such file'").stdout.trim()).toBe("3");
    }
    const state = JSON.parse(readFileSync(project.stateFile(STACK), "utf8"));
    expect(state.checkpoint.latest.resources ?? []).toEqual([]);
  });
});
