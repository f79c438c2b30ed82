/**
 * Deployments to real hosts: Debian containers with systemd as PID 1, sshd, PostgreSQL, Redis and
 * podman. The proxy is a clearly named stand-in image (e2e/standin) whose readiness answers only
 * when it reaches PostgreSQL and Redis through the bridge gateway, so a healthy deploy proves the
 * bind addresses and the bridge ordering for real.
 */
import type { FleetRender } from "../bundle/hostBundle";
import { deployHost, readHost, removeHost, type DeployOptions } from "../deploy/deployHost";
import { CANARY, fleet, secretsOf } from "./support/fleet";
import { bootHost, onHost, stopHost, target, type TestHost } from "./support/hosts";
import { configChangeRestartsOnlyItsReaders, deployTo, failingHealthCheckRollsBack, firstDeployIsHealthy } from "./support/scenarios";

let h1: TestHost;

const deploy = (render: FleetRender, options: DeployOptions = {}) => deployTo(h1, render, options);

beforeAll(() => {
  h1 = bootHost("e2e1", 11);
});

afterAll(() => {
  stopHost("e2e1");
});

describe("one host, in order", () => {
  it("first deploy: all units active and the stand-in healthy through the bridge gateway", async () => {
    await firstDeployIsHealthy(h1);
  });

  it("no-op re-deploy: nothing uploaded, nothing restarted", async () => {
    const result = await deploy(fleet(h1));
    expect(result).toMatchObject({ changed: false, uploadedFiles: [], restarted: [], generation: 1 });
  });

  it("a config change restarts only the units that read the changed file", async () => {
    await configChangeRestartsOnlyItsReaders(h1);
  });

  it("a hand edit and a deleted file are seen by read, and the next deploy repairs them", async () => {
    onHost(h1, "echo '# hand edit' >> /etc/homefleet/proxy/redis.conf && rm /etc/systemd/system/homefleet-backup-config.timer");
    const status = await readHost(target(h1));
    const render = fleet(h1, (s) => (s.cache.maxMemory = "128mb"));
    const expected = new Map(render.bundles[0].manifest.files.map((f) => [f.path, f.sha256]));
    const drift = Object.entries(status.files).filter(([p, h]) => expected.get(p) !== h);
    expect(drift.map(([p, h]) => [p, h === "missing" ? "missing" : "edited"]).sort()).toEqual([
      ["/etc/homefleet/proxy/redis.conf", "edited"],
      ["/etc/systemd/system/homefleet-backup-config.timer", "missing"],
    ]);
    const repaired = await deploy(render);
    expect(repaired.changed).toBe(true);
    const after = await readHost(target(h1));
    expect(Object.entries(after.files).filter(([p, h]) => expected.get(p) !== h)).toEqual([]);
  });

  it("a change that fails its health check rolls back, and the old generation serves again", async () => {
    await failingHealthCheckRollsBack(h1);
  });

  it("a connection cut right after activation: the host rolls itself back", async () => {
    const before = await readHost(target(h1));
    await expect(
      deploy(
        fleet(h1, (s) => (s.cache.maxMemory = "64mb")),
        {
          confirmAfterSec: 15,
          afterActivate: async (session: { cut(): void }) => {
            session.cut();
            throw new Error("connection cut by the test");
          },
        },
      ),
    ).rejects.toThrow(/connection cut by the test/);
    // The armed timer fires after 15 s and switches back.
    await new Promise((r) => setTimeout(r, 25_000));
    const after = await readHost(target(h1));
    expect(after.generation).toBe(before.generation);
    expect(onHost(h1, "grep '^maxmemory ' /etc/homefleet/proxy/redis.conf").stdout.trim()).toBe("maxmemory 128mb");
  });

  it("going back to the first config reactivates its generation, kept on the host, without uploading", async () => {
    const before = await readHost(target(h1));
    const result = await deploy(fleet(h1));
    expect(result).toMatchObject({ generation: 1, reusedGeneration: true, uploadedFiles: [], health: { verdict: "healthy" } });
    expect(result.restarted).toContain("redis-proxy.service");
    expect(result.bytesSent).toBeLessThan(2000); // secrets unchanged: nothing but commands went up
    expect(onHost(h1, "grep -c '^maxmemory 128mb' /etc/homefleet/proxy/redis.conf").stdout.trim()).toBe("0");
    const after = await readHost(target(h1));
    expect(after).toMatchObject({ generation: 1, confirmed: 1, phase: "confirmed" });
    expect(before.generation).not.toBe(1);
  });

  it("a change that restarts nothing is confirmed in two commands: the lock's, and the switch's, which ran the health round and the confirmation too", async () => {
    const before = await readHost(target(h1));
    const changed = await deploy(fleet(h1, undefined, "proxy", { backup: { retentionDays: 14 } }));
    expect(changed).toMatchObject({ changed: true, restarted: [], health: { verdict: "healthy" } });
    expect(changed.commands).toBe(2);
    expect(await readHost(target(h1))).toMatchObject({ generation: changed.generation, confirmed: changed.generation, phase: "confirmed" });
    // Back to the first config (its generation is kept: reused, nothing uploaded), in two commands as well.
    const back = await deploy(fleet(h1));
    expect(back).toMatchObject({ generation: before.generation, reusedGeneration: true, health: { verdict: "healthy" } });
    expect(back.commands).toBe(2);
  });

  it("keeps the canary secret out of the journal, the process list, command lines and generation directories", () => {
    const places = [
      "journalctl --no-pager -o cat",
      "ps -eo args",
      "cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '",
      // Generations carry their secrets (a rollback restores them) only under secrets/, root-only.
      "grep -rl --exclude-dir=secrets --exclude=secrets.json . /var/lib/homefleet/generations 2>/dev/null | xargs cat 2>/dev/null",
    ];
    for (const cmd of places) {
      const out = onHost(h1, cmd);
      expect({ cmd, leaked: out.stdout.includes(CANARY) }).toEqual({ cmd, leaked: false });
    }
    // The secret files themselves hold it, root-only.
    expect(onHost(h1, "stat -c '%a %U' /var/lib/homefleet/secrets/proxy/database-password").stdout.trim()).toBe("400 root");
    expect(onHost(h1, "stat -c '%a %U' /var/lib/homefleet/generations /var/lib/homefleet/generations/*/secrets | sort -u").stdout.trim()).toBe("700 root");
  });

  it("an unreachable host gives a clear error while another host deploys", async () => {
    const render = fleet(h1);
    const bundle = render.bundles[0];
    const results = await Promise.allSettled([
      deployHost(target(h1, { host: "ghost", address: "10.231.250.2", connectTimeoutSec: 3 }), bundle.files, bundle.manifest, secretsOf(bundle)),
      deploy(render),
    ]);
    expect(results[0].status).toBe("rejected");
    expect(String((results[0] as PromiseRejectedResult).reason.message)).toMatch(/^host ghost: cannot connect to root@10\.231\.250\.2:22/);
    expect(results[1].status).toBe("fulfilled");
  });

  it("destroy: stops and removes homefleet's units and files, keeps data", async () => {
    await removeHost(target(h1));
    expect(onHost(h1, "test -e /etc/systemd/system/podman-proxy.service; echo $?").stdout.trim()).toBe("1");
    expect(onHost(h1, "systemctl is-active podman-proxy.service redis-proxy.service").stdout).not.toMatch(/^active$/m);
    expect(onHost(h1, "test -d /var/lib/redis-proxy && echo kept").stdout.trim()).toBe("kept");
    expect(onHost(h1, "ls -d /etc/homefleet /usr/local/lib/homefleet /var/lib/homefleet/generations 2>&1 | grep -c 'No such file'").stdout.trim()).toBe("3");
  });
});
