/**
 * Deployments to an aarch64 host: a Debian bookworm host with its own arm64 root, run under
 * qemu-user emulation (e2e/testhosts.sh up NAME INDEX arm64). It passes the same scenarios as the
 * x86_64 host in deploy.e2e.test.ts (tests-e2e/support/scenarios.ts).
 *
 * Under qemu-user emulation the deploy scenarios cannot pass: systemd cannot set up
 * LoadCredential= (qemu refuses clone() with CLONE_NEWNS), iptables cannot reach nftables
 * (qemu does not translate netlink's netfilter protocol), and crun cannot re-execute itself from
 * a memory file descriptor (e2e/README.md, "aarch64 hosts"). CI therefore checks what an arm64
 * host gives the rendered units (architecture, packages, program paths, an arm64 stand-in
 * image); HOMEFLEET_E2E_AARCH64=all also runs the deploy scenarios, for a machine whose emulation
 * lacks those limits or a real aarch64 test host.
 */
import { fleet } from "./support/fleet";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { configChangeRestartsOnlyItsReaders, failingHealthCheckRollsBack, firstDeployIsHealthy } from "./support/scenarios";

const ALL = process.env.HOMEFLEET_E2E_AARCH64 === "all";
const slow = ALL ? it : it.skip;
/** Emulated hosts start every unit several times slower than the x86_64 ones. */
const EMULATED = { healthTimeoutSec: 300, confirmAfterSec: 420 };

let arm: TestHost;
const started = Date.now();
const times: string[] = [];

/** Runs one scenario and keeps its time for the closing line. */
async function timed(label: string, scenario: () => Promise<void>): Promise<void> {
  const t0 = Date.now();
  await scenario();
  times.push(`${label} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

beforeAll(() => {
  arm = bootHost("arm1", 51, "aarch64");
  times.push(`boot ${arm.bootSeconds} s`);
});

afterAll(() => {
  stopHost("arm1");
  console.log(`aarch64 host: ${times.join(", ")}; file ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

describe("an aarch64 host", () => {
  it("runs arm64 Debian with an arm64 stand-in image", () => {
    expect(onHost(arm, "uname -m").stdout.trim()).toBe("aarch64");
    expect(onHost(arm, "dpkg --print-architecture").stdout.trim()).toBe("arm64");
    expect(onHost(arm, "podman image inspect --format '{{.Os}}/{{.Architecture}}' localhost/homefleet-standin:1").stdout.trim()).toBe("linux/arm64");
    // The label alone proves nothing: this machine's kernel runs x86_64 binaries natively, so an
    // image labelled arm64 with x86_64 binaries inside would run here and fail on a real board.
    // ELF e_machine 0xb7 is aarch64 (0x3e is x86_64).
    const machine = (path: string) => onHost(arm, `od -An -tx1 -j18 -N1 ${path}`).stdout.trim();
    expect(machine("/usr/bin/podman")).toBe("b7");
    expect(machine("/usr/bin/redis-server")).toBe("b7");
    const layer = onHost(arm, "m=$(podman image mount localhost/homefleet-standin:1) && od -An -tx1 -j18 -N1 \"$m/bin/busybox\"; podman image unmount localhost/homefleet-standin:1 >/dev/null");
    expect(layer.stdout.trim()).toBe("b7");
  });

  it("has every package its render asks for, under the same names as on x86_64", () => {
    const packages = fleet(arm).bundles[0].manifest.packages;
    expect(packages).toEqual(expect.arrayContaining(["podman", "netavark", "postgresql-15", "redis-server", "prometheus-node-exporter", "prometheus-postgres-exporter", "prometheus-redis-exporter"]));
    const r = onHost(arm, `dpkg-query -W -f='\${Package} \${Architecture} \${db:Status-Abbrev}\\n' ${packages.join(" ")}`);
    const rows = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/));
    // Architecture-independent packages ("all") are fine; none may be another architecture's.
    expect(rows.filter(([, arch, status]) => status !== "ii" || !["arm64", "all"].includes(arch))).toEqual([]);
    expect(rows.map(([name]) => name).sort()).toEqual([...packages].sort());
  });

  slow("first deploy: all units active and the stand-in healthy through the bridge gateway", async () => {
    await timed("first deploy", () => firstDeployIsHealthy(arm, EMULATED));
  });

  it("every program the rendered units start, but homefleet's own scripts, is an executable at the path the units name", () => {
    const units = fleet(arm).bundles[0].files.filter((f) => /\.(service|socket|timer)$/.test(f.path));
    const programs = new Set<string>();
    for (const unit of units) {
      for (const line of unit.content.split("\n")) {
        const exec = /^Exec(?:Start|StartPre|StartPost|Stop|StopPost|Reload|Condition)=[-+!@:]*(\S+)/.exec(line);
        // homefleet's own scripts arrive with the deployment (and are shell, the same on every architecture).
        if (exec && !exec[1].startsWith("/usr/local/lib/homefleet/")) programs.add(exec[1]);
      }
    }
    expect([...programs].filter((p) => !p.startsWith("/"))).toEqual([]);
    const missing = onHost(arm, [...programs].map((p) => `test -x '${p}' || echo '${p}'`).join("; ")).stdout.trim();
    expect({ programs: programs.size, missing }).toEqual({ programs: programs.size, missing: "" });
  });

  slow("a config change restarts only the units that read the changed file", async () => {
    await timed("config change", () => configChangeRestartsOnlyItsReaders(arm, EMULATED));
  });

  slow("a change that fails its health check rolls back, and the old generation serves again", async () => {
    await timed("rollback", () => failingHealthCheckRollsBack(arm, { ...EMULATED, healthTimeoutSec: 30 }));
  });
});
