/**
 * homefleet under the real Pulumi engine: the Pulumi CLI (tools/pulumi-toolchain) runs the
 * program from this checkout with a file backend, against two real test hosts. Each test is one
 * thing a user does, in order: preview, up, a one-value change, a hand edit and refresh, a failing
 * health check, --target, an interrupted up, destroy.
 */
import { readFileSync } from "node:fs";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { PulumiProject } from "./support/pulumiCli";

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
    litellm: { models: [{ name: "local", model: "ollama/llama3.1:8b", apiBase: "http://127.0.0.1:11434" }] },
  };
  change(s);
  return s;
}

type Change = (s: Record<string, any>) => void;

function config(changes: { alpha?: Change; beta?: Change } = {}): Record<string, unknown> {
  const host = (h: TestHost) => ({ address: h.address, arch: "x86_64", os: "systemd", hostKey: h.hostKey, podman: { cgroups: "disabled" } });
  return {
    "homefleet:hosts": { [alpha.name]: host(alpha), [beta.name]: host(beta) },
    "homefleet:stacks": { first: stack(alpha, "10.89.0.0/24", changes.alpha), second: stack(beta, "10.89.0.0/24", changes.beta) },
    "homefleet:deploy": { healthTimeoutSec: 45, confirmAfterSec: 120 },
  };
}

beforeAll(async () => {
  alpha = bootHost("eng-a", 21);
  beta = bootHost("eng-b", 22);
  project = new PulumiProject("engine");
  await project.initStack(STACK, config(), alpha.keyFile);
});

afterAll(() => {
  stopHost("eng-a");
  stopHost("eng-b");
  for (const r of project?.runs ?? []) console.log(`pulumi ${r.args.join(" ")}: exit ${r.code ?? r.signal} in ${r.seconds.toFixed(1)} s`);
  project?.cleanup();
});

describe("the real Pulumi engine", () => {
  it("preview of a fresh stack lists every host deployment and stack component", async () => {
    const r = await project.ok(["preview", "--stack", STACK, "--color", "never"]);
    console.log(r.stdout);
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

  it("up deploys both hosts; stack outputs show each host's verdict and generation", async () => {
    const r = await project.ok(["up", "--stack", STACK, "--yes", "--skip-preview", "--color", "never"]);
    console.log(r.stdout);
    const out = await project.outputs(STACK);
    expect(out.hosts[alpha.name]).toMatchObject({ generation: 1, health: { verdict: "healthy" } });
    expect(out.hosts[beta.name]).toMatchObject({ generation: 1, health: { verdict: "healthy" } });
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
    // The secret envelopes are there, with ciphertext in place of the values.
    expect(state.includes('"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","ciphertext":"v1:')).toBe(true);
  });
});
