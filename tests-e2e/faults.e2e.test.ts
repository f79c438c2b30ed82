/**
 * Deploy guarantees under real faults on a real host (a Debian container with systemd, sshd,
 * PostgreSQL, Redis and podman): two deployers in two processes, a deployer killed with SIGKILL,
 * revert timers that fire inside the health gate, a connection reset during the handshake and
 * packets dropped on the host's veth, a truncated manifest and state file, a re-keyed host, a
 * renamed stack, a service that dies after it first answered. After each, the host is on a
 * confirmed generation or back on the previous one, and the error says what it runs.
 * The scenarios run in order on one host; their numbers are the items of the deploy-reliability
 * work (issue 11), whose closing note tabulates them.
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { deployHost, readHost, removeHost, type DeployOptions, type SecretFileContent } from "../deploy/deployHost";
import { DeployError, HostSession, hostKeyFingerprint as fingerprint } from "../deploy/ssh";
import type { DeployJob } from "./support/deployChild";
import { fleet, secretValues, secretsOf, type StackChange } from "./support/fleet";
import { bootHost, onHost, stopHost, target, type TestHost } from "./support/hosts";

let h: TestHost;
const NAME = "flt1";
const FAST: DeployOptions = { healthTimeoutSec: 60, confirmAfterSec: 120, healthSoakSec: 0, keepGenerations: 20 };

function deploy(change: StackChange = () => undefined, options: DeployOptions = {}, secrets?: (s: SecretFileContent[]) => SecretFileContent[], stackName = "proxy") {
  const bundle = fleet(h, change, stackName).bundles[0];
  const all = secretsOf(bundle);
  return deployHost(target(h), bundle.files, bundle.manifest, secrets ? secrets(all) : all, { ...FAST, ...options });
}

const maxMemory = (value: string): StackChange => (s) => (s.cache.maxMemory = value);

/** The host's state file: "PHASE CURRENT CONFIRMED". */
function hostState(): string {
  return onHost(h, "cat /var/lib/homefleet/state 2>/dev/null").stdout.trim();
}

function timerActive(): boolean {
  return onHost(h, "systemctl is-active homefleet-confirm.timer").stdout.trim() === "active";
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - started;
}

function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected the deployment to fail");
    },
    (err: Error) => err,
  );
}

/** A deployment in a process of its own (tests-e2e/support/deployChild.ts). */
function deployInChild(job: Omit<DeployJob, "host" | "secretValues">) {
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", join(__dirname, "support", "deployChild.ts")], {
    cwd: join(__dirname, ".."),
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.stdin.end(JSON.stringify({ ...job, host: h, secretValues }));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; result?: { ok: boolean; generation?: number; error?: string }; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, result: out.trim() ? JSON.parse(out.trim().split("\n").pop()!) : undefined, stderr: err })),
  );
  return { child, done };
}

beforeAll(() => {
  h = bootHost(NAME, 41);
});

afterAll(() => {
  spawnSync("iptables", ["-D", "INPUT", "-i", `ve-${NAME}`, "-p", "tcp", "--sport", "22", "-j", "DROP"]);
  stopHost(NAME);
});

describe("deploy guarantees under real faults", () => {
  it("6. a first deployment cut off after activation reverts to nothing installed", async () => {
    const cut = await failureOf(
      deploy(maxMemory("96mb"), {
        confirmAfterSec: 10,
        afterActivate: async (session) => {
          session.cut();
          throw new Error("connection cut by the test");
        },
      }),
    );
    expect(cut.message).toBe("connection cut by the test");
    expect(hostState()).toBe("armed 1 -");
    await waitFor("the revert timer to remove generation 1", () => hostState() === "confirmed - -", 60_000);
    expect(onHost(h, "systemctl is-active podman-proxy.service redis-proxy.service").stdout).not.toMatch(/^active$/m);
    expect(onHost(h, "ls /etc/systemd/system/podman-proxy.service /etc/homefleet/proxy /var/lib/homefleet/secrets/proxy 2>&1 | grep -c 'No such file'").stdout.trim()).toBe("3");
  });

  it("a deployment after that one is healthy (generation numbers are never reused)", async () => {
    const result = await deploy();
    expect(result).toMatchObject({ generation: 2, health: { verdict: "healthy" } });
    expect(hostState()).toBe("confirmed 2 2");
    expect(timerActive()).toBe(false);
  });

  it("1. a second deployer (another process) is refused while the first holds the host, naming it", async () => {
    const first = deployInChild({ holder: "deployer A (test)", maxMemory: "100mb", confirmAfterSec: 120, healthTimeoutSec: 60, healthSoakSec: 15 });
    await waitFor("deployer A to take the host's lock", () => onHost(h, "cat /var/lib/homefleet/deploy.holder 2>/dev/null").stdout.includes("deployer A"), 60_000);
    const second = deployInChild({ holder: "deployer B (test)", maxMemory: "110mb", confirmAfterSec: 120, healthTimeoutSec: 60, healthSoakSec: 0 });
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(a.result).toMatchObject({ ok: true, generation: 3 });
    expect(b.result?.ok).toBe(false);
    expect(b.result?.error).toMatch(/^host flt1: not deployed: another deployment holds this host: deployer A \(test\), since \d{4}-\d\d-\d\dT/);
    expect(hostState()).toBe("confirmed 3 3");
    expect(timerActive()).toBe(false);
    expect(onHost(h, "grep '^maxmemory ' /etc/homefleet/proxy/redis.conf").stdout.trim()).toBe("maxmemory 100mb");
  });

  it("3. a deployer killed after the switch: the lock frees at once, and a retry confirms the armed generation", async () => {
    const killed = deployInChild({ holder: "deployer to be killed", maxMemory: "120mb", confirmAfterSec: 300, healthTimeoutSec: 60, healthSoakSec: 60 });
    await waitFor("the host to be armed on generation 4", () => hostState() === "armed 4 3", 90_000);
    killed.child.kill("SIGKILL");
    expect((await killed.done).signal).toBe("SIGKILL");
    const freedMs = await waitFor("the deploy lock to be free", () => !onHost(h, "test -e /var/lib/homefleet/deploy.holder && echo held").stdout.includes("held"), 40_000);
    const retry = await deploy(maxMemory("120mb"));
    expect(retry).toMatchObject({ generation: 4, uploadedFiles: [], health: { verdict: "healthy" } });
    expect(hostState()).toBe("confirmed 4 4");
    expect(timerActive()).toBe(false);
    console.log(`killed deployer: the deploy lock was free ${freedMs} ms after SIGKILL`);
  });

  it("2. the revert timer fires inside a failing health gate: one rollback, to the confirmed generation, and the error says so", async () => {
    const error = await failureOf(deploy((s) => (maxMemory("130mb")(s), (s.container.healthCheck = { path: "/no-such-endpoint", timeoutSec: 10, intervalSec: 1 })), { confirmAfterSec: 20, healthTimeoutSec: 40 }));
    expect(error).toBeInstanceOf(DeployError);
    // The gate names the check that failed on generation 5, not whatever the revert timer's
    // rollback (which restarts Redis) made fail in the rounds after it.
    expect(error.message).toMatch(/^host flt1: generation 5 failed its health check "podman-proxy\.service: GET http:\/\/[^"]+\/no-such-endpoint"; the revert timer had rolled it back already: the host runs generation 4, which is healthy\./);
    expect(hostState()).toBe("confirmed 4 4");
    expect(onHost(h, "grep '^maxmemory ' /etc/homefleet/proxy/redis.conf").stdout.trim()).toBe("maxmemory 120mb");
    expect(onHost(h, "journalctl -u homefleet-confirm.service -o cat --no-pager | grep -c 'from generation 5 to 4'").stdout.trim()).toBe("1");
  });

  it("2. the revert timer fires inside a passing soak: the confirmation is refused and the report says what the host runs", async () => {
    const error = await failureOf(deploy(maxMemory("140mb"), { confirmAfterSec: 10, healthSoakSec: 20 }));
    // The first soak round after the timer fired finds the host off generation 6: what the checks
    // say from then on is about generation 4, so the gate stops there.
    expect(error.message).toMatch(/^host flt1: generation 6 passed its health checks for \d+ s but was not confirmed before its revert timer fired \(confirmAfterSec 10 s\); the revert timer had rolled it back already: the host runs generation 4, which is healthy\.$/);
    expect(hostState()).toBe("confirmed 4 4");
    expect(onHost(h, "grep '^maxmemory ' /etc/homefleet/proxy/redis.conf").stdout.trim()).toBe("maxmemory 120mb");
  });

  it("4. images are pulled before the timer is armed: a failed pull touches nothing", async () => {
    const before = onHost(h, "ls /var/lib/homefleet/generations").stdout;
    const error = await failureOf(deploy((s) => (s.container.image = "localhost/homefleet-standin:no-such-tag")));
    expect(error.message).toMatch(/^host flt1: pulling container images failed \(exit \d+\)/);
    expect(hostState()).toBe("confirmed 4 4");
    expect(timerActive()).toBe(false);
    expect(onHost(h, "ls /var/lib/homefleet/generations").stdout).toBe(before);
  });

  it("7. a rotated secret that breaks health is rolled back with its old value, and the error names what serves", async () => {
    const authConf = "/var/lib/homefleet/secrets/proxy/cache-auth.conf";
    const before = onHost(h, `sha256sum ${authConf}`).stdout;
    // Redis gets a new password, but the password the clients read stays the old one.
    const error = await failureOf(deploy(maxMemory("120mb"), { healthTimeoutSec: 20 }, (all) => all.map((s) => (s.path === authConf ? { ...s, content: "requirepass rotated-but-not-everywhere\n" } : s))));
    expect(error.message).toMatch(/^host flt1: generation \d+ failed its health check "[^"]+"; rolled back to generation 4, which is healthy\./);
    expect(onHost(h, `sha256sum ${authConf}`).stdout).toBe(before);
    expect(hostState()).toBe("confirmed 4 4");
  });

  it("11. a service that dies after it first answered fails the soak and is rolled back", async () => {
    const error = await failureOf(
      deploy(maxMemory("150mb"), {
        healthSoakSec: 20,
        afterActivate: async () => {
          // The fault: Redis stops 10 s after the switch, once the gate has seen everything pass.
          onHost(h, "systemd-run --quiet --on-active=10 systemctl stop redis-proxy.service");
        },
      }),
    );
    expect(error.message).toMatch(/^host flt1: generation \d+ failed its health check "[^"]*\(failed \d+ s after passing\)"; rolled back to generation 4, which is healthy\./);
    expect(hostState()).toBe("confirmed 4 4");
    expect(onHost(h, "systemctl is-active redis-proxy.service").stdout.trim()).toBe("active");
  });

  it("9. a connection reset during the SSH handshake is an error naming the cause, not a crash", async () => {
    // A relay to the host's sshd that resets both sides after the first bytes of the key exchange.
    const relay: Server = createServer((client: Socket) => {
      const upstream = createConnection({ host: h.address, port: 22 });
      let fromServer = 0;
      upstream.on("data", (d) => {
        client.write(d);
        fromServer += d.length;
        if (fromServer > 200) {
          client.resetAndDestroy();
          upstream.resetAndDestroy();
        }
      });
      client.on("data", (d) => upstream.write(d));
      client.on("error", () => undefined);
      upstream.on("error", () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    const port = (relay.address() as { port: number }).port;
    try {
      const error = await failureOf(HostSession.connect(target(h, { address: "127.0.0.1", port })));
      expect(error.message).toMatch(/^host flt1: cannot connect to root@127\.0\.0\.1:\d+: (ECONNRESET|.*closed during the handshake)/);
    } finally {
      relay.close();
    }
  });

  it("9. packets dropped on the host's veth during the upload: the cause is named, and the next deployment goes on from there", async () => {
    const rule = ["INPUT", "-i", `ve-${NAME}`, "-p", "tcp", "--sport", "22", "-j", "DROP"];
    onHost(h, "touch /etc/homefleet/proxy/redis.conf.homefleet-new"); // what a cut install leaves
    const error = await failureOf(
      deploy(maxMemory("160mb"), {
        beforeUpload: async () => {
          expect(spawnSync("iptables", ["-I", ...rule]).status).toBe(0);
        },
      }),
    );
    spawnSync("iptables", ["-D", ...rule]);
    // The pull of images opens the same command: cut before the host confirmed them, the error says so.
    expect(error.message).toMatch(/^host flt1: uploading the new generation failed( \(the host was still checking its container images\))?: the connection was lost during .* \(.+\)/);
    expect(hostState()).toBe("confirmed 4 4");
    await waitFor("the cut deployer's lock to be free", () => !onHost(h, "test -e /var/lib/homefleet/deploy.holder && echo held").stdout.includes("held"), 60_000);
    const next = await deploy(maxMemory("160mb"));
    expect(next.health.verdict).toBe("healthy");
    expect(onHost(h, "ls /etc/homefleet/proxy/redis.conf.homefleet-new /var/lib/homefleet/generations/.*.partial 2>&1 | grep -c 'No such file'").stdout.trim()).toBe("2");
  });

  it("9. a remote command past its timeout is stopped on the host, not left running", async () => {
    const session = await HostSession.connect(target(h));
    try {
      const error = await failureOf(session.exec("sleep 300; echo homefleet-timeout-probe", undefined, 2));
      expect(error.message).toBe("host flt1: a command did not finish within 2 s and was stopped on the host: sleep 300; echo");
    } finally {
      session.close();
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(onHost(h, "pgrep -ax sleep || true").stdout.trim()).toBe("");
  });

  it("10. a truncated manifest or state file is named with the host and the step, and nothing is changed", async () => {
    const state = hostState();
    const current = state.split(" ")[1];
    const manifest = `/var/lib/homefleet/generations/${current}/manifest.json`;
    onHost(h, `cp ${manifest} /root/manifest.bak && truncate -s 100 ${manifest}`);
    const damaged = await failureOf(deploy(maxMemory("170mb")));
    expect(damaged.message).toMatch(new RegExp(`^host flt1: generation ${current}, the last one confirmed healthy and the target of any rollback, is damaged .*Nothing was changed\\.`));
    onHost(h, `cp /root/manifest.bak ${manifest}`);
    onHost(h, "cp /var/lib/homefleet/state /root/state.bak && truncate -s 5 /var/lib/homefleet/state");
    const truncated = await failureOf(deploy(maxMemory("170mb")));
    expect(truncated.message).toMatch(/^host flt1: reading the host's state .*failed \(exit 76\): the state file \/var\/lib\/homefleet\/state is damaged/);
    onHost(h, "cp /root/state.bak /var/lib/homefleet/state");
    expect(hostState()).toBe(state);
  });

  it("8. a re-keyed host is refused against the key pinned at first contact; the config's hostKey accepts the new one", async () => {
    const unpinned = { ...target(h), hostKey: undefined };
    const bundle = fleet(h, maxMemory("160mb")).bundles[0];
    const first = await deployHost(unpinned, bundle.files, bundle.manifest, secretsOf(bundle), FAST);
    expect(first.hostKey).toBe(h.hostKey);
    // The test host's own key is a read-only bind mount: the new key goes beside it, and sshd is pointed at it.
    const newKey = onHost(
      h,
      "ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/rekeyed_ed25519_key && sed -i 's|^HostKey .*|HostKey /etc/ssh/rekeyed_ed25519_key|' /etc/ssh/sshd_config.d/homefleet-e2e.conf && systemctl restart ssh && cut -d' ' -f1,2 /etc/ssh/rekeyed_ed25519_key.pub",
    ).stdout.trim();
    expect(newKey).toMatch(/^ssh-ed25519 AAAA/);
    expect(newKey).not.toBe(h.hostKey);
    writeFileSync(h.knownHosts, `${h.address} ${newKey}\n`);
    const state = hostState();
    const refused = await failureOf(deployHost({ ...unpinned, pinnedHostKey: first.hostKey }, bundle.files, bundle.manifest, secretsOf(bundle), FAST));
    expect(refused.message).toBe(
      `host flt1: the host key changed since homefleet first connected: Pulumi state pins ${fingerprint(first.hostKey)}, the host now offers ${fingerprint(newKey)}. Nothing was sent to it. ` +
        `If the host was re-keyed on purpose, set homefleet:hosts.flt1.hostKey to "${newKey}" and run again; otherwise something else may be answering at this address.`,
    );
    expect(hostState()).toBe(state);
    const accepted = await deployHost({ ...unpinned, hostKey: newKey, pinnedHostKey: first.hostKey }, bundle.files, bundle.manifest, secretsOf(bundle), FAST);
    expect(accepted.hostKey).toBe(newKey);
    h = { ...h, hostKey: newKey };
  });

  it("5. a renamed stack: the old units stop and leave with their files, secrets and bridge, their data stays, the new one serves on the same ports", async () => {
    const oldBridge = fleet(h).bundles[0].manifest.interfaces;
    const result = await deploy(() => undefined, {}, undefined, "proxy2");
    expect(result.health.verdict).toBe("healthy");
    const states = onHost(h, "systemctl is-active podman-proxy.service redis-proxy.service homefleet-network-proxy.service homefleet-postgresql-proxy.service").stdout.trim().split("\n");
    expect(states.filter((s) => s === "active")).toEqual([]);
    expect(onHost(h, "systemctl list-units --all --no-legend | grep -Ec 'not-found +active' || true").stdout.trim()).toBe("0");
    expect(onHost(h, "find /etc/systemd/system -xtype l").stdout.trim()).toBe("");
    expect(onHost(h, "ls /var/lib/homefleet/secrets").stdout.trim().split("\n")).not.toContain("proxy");
    const renamedBridge = fleet(h, () => undefined, "proxy2").bundles[0].manifest.interfaces;
    for (const iface of oldBridge.filter((i) => !renamedBridge.includes(i))) expect(onHost(h, `ip link show ${iface} 2>&1`).stdout).toMatch(/does not exist/);
    expect(onHost(h, "test -d /var/lib/redis-proxy && echo kept").stdout.trim()).toBe("kept");
    expect(onHost(h, "runuser -u postgres -- psql -Atc \"select datname from pg_database where datname = 'proxy'\"").stdout.trim()).toBe("proxy");
  });

  it("5. destroy removes the units and files of every kept generation, and keeps data", async () => {
    const everyFile = onHost(h, "jq -r '.files[].path' /var/lib/homefleet/generations/*/manifest.json | sort -u").stdout.trim().split("\n");
    expect(everyFile).toContain("/etc/systemd/system/podman-proxy.service");
    // A unit of an earlier generation put back by hand: destroy must stop it too.
    onHost(h, "cp /var/lib/homefleet/generations/2/files/etc/systemd/system/redis-proxy.service /etc/systemd/system/ && systemctl daemon-reload && systemctl start redis-proxy.service");
    await removeHost(target(h));
    const left = onHost(h, `ls -d ${everyFile.join(" ")} 2>/dev/null`).stdout.trim();
    expect(left).toBe("");
    expect(onHost(h, "systemctl is-active redis-proxy.service redis-proxy2.service podman-proxy2.service").stdout).not.toMatch(/^active$/m);
    expect(onHost(h, "ls -d /var/lib/homefleet/generations /var/lib/homefleet/secrets /var/lib/homefleet/state 2>&1 | grep -c 'No such file'").stdout.trim()).toBe("3");
    expect(onHost(h, "test -d /var/lib/redis-proxy2 && echo kept").stdout.trim()).toBe("kept");
    expect(await readHost(target(h))).toMatchObject({ generation: null });
  });
});
