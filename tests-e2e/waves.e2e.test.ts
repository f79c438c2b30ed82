/**
 * Rollout waves, end to end: the compiled program under Pulumi's runtime, with a stand-in for the
 * engine's create step that runs each host deployment's serialized provider against real hosts
 * (tests-e2e/support/engine.js). Wave 0 is e2e6, wave 1 is e2e7. A failing wave 0 stops wave 1
 * before it touches its host; a healthy wave 0 lets it start, after.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";

const ROOT = join(__dirname, "..");
let wave0: TestHost;
let wave1: TestHost;

interface EngineRun {
  events: { host: string; event: string; message?: string; generation?: number; at: number }[];
  errors: string[];
}

function stack(host: TestHost, healthPath: string): Record<string, unknown> {
  return {
    host: host.name,
    kind: "litellm",
    network: { subnet: "10.89.0.0/24" },
    container: { image: "localhost/homefleet-standin:1", memoryMax: "512M", healthCheck: { path: healthPath, timeoutSec: 10, intervalSec: 1 } },
    database: {},
    cache: { port: 6380 },
    litellm: { models: [{ name: "local", model: "ollama/llama3.1:8b", apiBase: "http://127.0.0.1:11434" }] },
  };
}

function config(wave0Health: string): Record<string, string> {
  const hostConfig = (h: TestHost, wave: number) => ({ address: h.address, arch: "x86_64", os: "systemd", hostKey: h.hostKey, podman: { cgroups: "disabled" }, wave });
  return {
    "homefleet:hosts": JSON.stringify({ [wave0.name]: hostConfig(wave0, 0), [wave1.name]: hostConfig(wave1, 1) }),
    "homefleet:stacks": JSON.stringify({ first: stack(wave0, wave0Health), second: stack(wave1, "/health/readiness") }),
    "homefleet:deploy": JSON.stringify({ installPackages: false, healthTimeoutSec: 30, confirmAfterSec: 120 }),
    "homefleet:sshPrivateKey": readFileSync(wave0.keyFile, "utf8"),
  };
}

function runEngine(cfg: Record<string, string>): Promise<EngineRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, "support", "engine.js")], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`engine printed no result:\n${out}\n${err}`));
      }
    });
    child.stdin.end(JSON.stringify({ root: ROOT, config: cfg }));
  });
}

beforeAll(() => {
  // The engine runs the compiled program, as the Pulumi CLI runs index.ts: build it from this checkout.
  const build = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`tsc failed:\n${build.stdout}${build.stderr}`);
  wave0 = bootHost("e2e6", 16);
  wave1 = bootHost("e2e7", 17);
});

afterAll(() => {
  stopHost("e2e6");
  stopHost("e2e7");
});

it("a failing first wave stops the second before it touches its host", async () => {
  const run = await runEngine(config("/no-such-endpoint"));
  expect(run.events.map((e) => [e.host, e.event])).toEqual([
    ["e2e6", "start"],
    ["e2e6", "failed"],
  ]);
  expect(run.events[1].message).toMatch(/^host e2e6: generation 1 failed its health check .*; removed it again \(no earlier generation\)/);
  expect(run.errors.join("\n")).toContain("host e2e6: generation 1 failed its health check");
  // The second wave's host was never contacted: no homefleet state, no units.
  expect(onHost(wave1, "test -e /var/lib/homefleet; echo $?").stdout.trim()).toBe("1");
  expect(onHost(wave1, "test -e /etc/systemd/system/podman-second.service; echo $?").stdout.trim()).toBe("1");
  process.stdout.write(`failing wave 0: ${JSON.stringify(run.events.map(({ message: _m, ...e }) => e))}\n`);
});

it("a healthy first wave lets the second start after it", async () => {
  const run = await runEngine(config("/health/readiness"));
  expect(run.errors).toEqual([]);
  expect(run.events.map((e) => [e.host, e.event])).toEqual([
    ["e2e6", "start"],
    ["e2e6", "healthy"],
    ["e2e7", "start"],
    ["e2e7", "healthy"],
  ]);
  expect(run.events[2].at).toBeGreaterThanOrEqual(run.events[1].at);
  expect(onHost(wave1, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4000/health/readiness").stdout).toBe("200");
  process.stdout.write(`healthy wave 0: ${JSON.stringify(run.events)}\n`);
});
