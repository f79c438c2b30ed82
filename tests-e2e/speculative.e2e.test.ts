/**
 * Deployments that know from the deployer's records (Pulumi state) what the host runs send the
 * new generation with the deploy lock's command: on a host that is as recorded, the whole
 * deployment (lock, recover, upload, switch, health round, confirmation) is one SSH command; on
 * one that is not, the host drops the upload and the deployment goes on from what the host
 * reports. A real Debian test host with systemd, PostgreSQL, Redis and podman.
 */
import type { FleetRender } from "../bundle/hostBundle";
import { readHost, type DeployOptions } from "../deploy/deployHost";
import { DeployError, HostSession } from "../deploy/ssh";
import { fleet } from "./support/fleet";
import { bootHost, onHost, stopHost, target, type TestHost } from "./support/hosts";
import { deployTo, readiness, smallerCache } from "./support/scenarios";

let host: TestHost;

beforeAll(() => {
  host = bootHost("spec1", 46);
});

afterAll(() => {
  stopHost("spec1");
});

const recordOf = (render: FleetRender, generation: number): DeployOptions["expected"] => ({ generation, manifest: render.bundles[0].manifest });
/** The commands each deployment sent besides the lock's (health rounds after the first, a rollback, ...). */
let sent: string[] = [];
beforeEach(() => {
  sent = [];
  const exec = HostSession.prototype.exec;
  jest.spyOn(HostSession.prototype, "exec").mockImplementation(function (this: HostSession, ...args: Parameters<HostSession["exec"]>) {
    sent.push(args[0]);
    return exec.apply(this, args);
  });
});
afterEach(() => jest.restoreAllMocks());
/** Whether a deployment switched in a command of its own (not in the lock's). */
const switchedApart = () => sent.some((c) => /homefleet-activate (prepare|switch) /.test(c));
const noLeftUpload = () => expect(onHost(host, "ls -a /var/lib/homefleet").stdout).not.toMatch(/\.upload\.|\.partial/);

describe("one host, in order", () => {
  const first = () => fleet(host);
  const second = () => fleet(host, smallerCache);

  it("a first deployment that expects nothing is switched to within the lock's command, which installs homefleet-activate too", async () => {
    const steps: string[] = [];
    const result = await deployTo(host, first(), { firstDeployment: true, expected: { generation: null, manifest: null }, progress: (s) => steps.push(s.step) });
    expect(result).toMatchObject({ generation: 1, changed: true, health: { verdict: "healthy" } });
    // Every command after the lock's is a health round the container needed to come up, or the confirmation after it.
    expect(switchedApart()).toBe(false);
    expect(result.commands).toBe(1 + sent.length);
    expect(sent.every((c) => /states-end|homefleet-activate confirm /.test(c))).toBe(true);
    expect(result.uploadedFiles.length).toBe(first().bundles[0].manifest.files.length);
    expect(readiness(host)).toBe("200");
    expect(await readHost(target(host))).toMatchObject({ generation: 1, confirmed: 1, phase: "confirmed", armed: false });
    // The progress display still sees each step, from the one command's output.
    expect(steps).toEqual(expect.arrayContaining(["connecting", "pulling", "uploading", "switching", "health", "confirming"]));
    expect(steps.indexOf("uploading")).toBeLessThan(steps.indexOf("switching"));
    noLeftUpload();
  });

  it("a change on a host as recorded is switched to within the lock's command: only the changed file goes, only its reader restarts", async () => {
    const result = await deployTo(host, second(), { expected: recordOf(first(), 1) });
    expect(result).toMatchObject({ generation: 2, uploadedFiles: ["/etc/homefleet/proxy/redis.conf"], restarted: ["redis-proxy.service"], health: { verdict: "healthy" } });
    expect(switchedApart()).toBe(false);
    expect(sent.every((c) => /states-end|homefleet-activate confirm /.test(c))).toBe(true);
    expect(onHost(host, "grep -c '^maxmemory 128mb' /etc/homefleet/proxy/redis.conf").stdout.trim()).toBe("1");
    expect(await readHost(target(host))).toMatchObject({ generation: 2, confirmed: 2, phase: "confirmed", armed: false });
    noLeftUpload();
  });

  it("a wrong record (the host moved on since): the upload is dropped and the deployment plans from the host's report", async () => {
    // The record says generation 1 with the first config; the host runs generation 2. Wanted: the first config again.
    const result = await deployTo(host, first(), { expected: recordOf(second(), 1) });
    // Generation 1 is kept on the host and holds exactly this: switched to again, nothing uploaded.
    expect(result).toMatchObject({ generation: 1, reusedGeneration: true, uploadedFiles: [], health: { verdict: "healthy" } });
    expect(switchedApart()).toBe(true);
    expect(await readHost(target(host))).toMatchObject({ generation: 1, confirmed: 1, phase: "confirmed" });
    noLeftUpload();
  });

  it("a record that is right but a host that keeps a later generation: not guessed at, planned from the report", async () => {
    // The host is on 1 and keeps 2: a new generation must be numbered 3, which only the host knows.
    const result = await deployTo(host, second(), { expected: recordOf(first(), 1) });
    expect(result).toMatchObject({ generation: 2, reusedGeneration: true, health: { verdict: "healthy" } });
    expect(switchedApart()).toBe(true);
  });

  it("a change that fails its health check in the one command rolls back to the recorded generation", async () => {
    // Start from a host with nothing above its current generation: remove the kept ones by hand.
    onHost(host, "rm -rf /var/lib/homefleet/generations/1");
    const broken = fleet(host, (s) => {
      s.cache.maxMemory = "96mb";
      s.container.healthCheck = { path: "/no-such-endpoint", timeoutSec: 10, intervalSec: 1 };
    });
    const error = await deployTo(host, broken, { healthTimeoutSec: 15, expected: recordOf(second(), 2) }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error).toBeInstanceOf(DeployError);
    expect(error!.message).toMatch(/^host spec1: generation 3 failed its health check "podman-proxy.service: GET http:\/\/127.0.0.1:4000\/no-such-endpoint"; rolled back to generation 2, which is healthy/);
    expect(await readHost(target(host))).toMatchObject({ generation: 2, confirmed: 2, phase: "confirmed", armed: false });
    expect(onHost(host, "grep -c '^maxmemory 128mb' /etc/homefleet/proxy/redis.conf").stdout.trim()).toBe("1");
    expect(readiness(host)).toBe("200");
    noLeftUpload();
  });

  it("two deployments at once, both with records: one holds the host, the other is refused before its upload is read", async () => {
    onHost(host, "rm -rf /var/lib/homefleet/generations/3");
    const third = fleet(host, (s) => (s.cache.maxMemory = "112mb"));
    const fourth = fleet(host, (s) => (s.cache.maxMemory = "120mb"));
    const settled = await Promise.allSettled([
      deployTo(host, third, { expected: recordOf(second(), 2), holder: "deployer A" }),
      deployTo(host, fourth, { expected: recordOf(second(), 2), holder: "deployer B" }),
    ]);
    const done = settled.filter((r) => r.status === "fulfilled");
    const refused = settled.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(done.length).toBe(1);
    expect(refused.length).toBe(1);
    expect(String(refused[0].reason.message)).toMatch(/not deployed: another deployment holds this host: deployer [AB], since /);
    const now = await readHost(target(host));
    expect(now).toMatchObject({ generation: 3, confirmed: 3, phase: "confirmed", armed: false, holder: null });
    noLeftUpload();
  });

  it("the same manifest again, with records: the report comes from what prepare saved (no upload), a no-op in one command, and a hand edit is still seen and repaired", async () => {
    const now = await readHost(target(host));
    const running = [fleet(host, (s) => (s.cache.maxMemory = "112mb")), fleet(host, (s) => (s.cache.maxMemory = "120mb"))].find((r) => r.bundles[0].manifest.sha256 === now.manifestSha256)!;
    const again = await deployTo(host, running, { expected: recordOf(running, now.generation!) });
    expect(again).toMatchObject({ generation: now.generation, changed: false, commands: 1, uploadedFiles: [], restarted: [], bytesSent: 0 });
    expect(Object.values(again.unitStates).every((s) => s === "active")).toBe(true);
    onHost(host, "echo '# hand edit' >> /etc/homefleet/proxy/redis.conf");
    const repaired = await deployTo(host, running, { expected: recordOf(running, now.generation!) });
    expect(repaired).toMatchObject({ generation: now.generation, changed: true, restarted: ["redis-proxy.service"], health: { verdict: "healthy" } });
    expect(onHost(host, "grep -c 'hand edit' /etc/homefleet/proxy/redis.conf || true").stdout.trim()).toBe("0");
    expect(await readHost(target(host))).toMatchObject({ generation: now.generation, confirmed: now.generation, phase: "confirmed" });
  });
});
