/**
 * Scheduled jobs (`homefleet:hosts.<host>.jobs.<name>`): config errors name the job's config
 * path; a job is a oneshot service and a timer of its name, hardened, printed by both flavours'
 * unit printers, and placed in the review's timer plan like homefleet's own timers. The rendered
 * units of the jobs in tests/fixtures/operations.yaml also pass systemd-analyze verify and
 * nix-instantiate --parse in tests/render.validators.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { parseFleetConfig, type ConfigProblem } from "../config/load";
import { buildFleetModel } from "../model/build";
import { reviewFleet } from "../review";
import { run, verifyUnits } from "./support/validators";
import { configProblems } from "./support/configProblems";

type Raw = Record<string, any>;

const IMAGE = "ghcr.io/berriai/litellm-database:main-v1.81.3-stable";

/** Host `box` (Debian) with the stack `llm` and host `pi` (NixOS), each with the jobs given. */
function fleet(boxJobs: Raw = {}, piJobs: Raw = {}): { hosts: Raw; stacks: Raw } {
  return {
    hosts: {
      box: { address: "192.0.2.10", arch: "x86_64", os: "systemd", jobs: boxJobs },
      pi: { address: "192.0.2.11", arch: "aarch64", os: "nixos", jobs: piJobs },
    },
    stacks: {
      llm: { host: "box", kind: "litellm", network: { subnet: "10.89.0.0/24" }, container: { image: IMAGE }, database: {}, litellm: { models: [{ name: "a", model: "ollama/a" }] } },
    },
  };
}

const trim = (extra: Raw = {}): Raw => ({ program: { debian: "/usr/sbin/fstrim", nix: { pkg: "util-linux", bin: "fstrim" } }, args: ["--all"], calendar: "Sun *-*-* 03:00:00", ...extra });

const problems = (input: { hosts: Raw; stacks: Raw }): ConfigProblem[] => configProblems(input);

describe("config errors name the job's config path", () => {
  const at = "homefleet:hosts.box.jobs.trim";
  it.each<[string, Raw, string, RegExp]>([
    ["an unknown key", trim({ schedule: "daily" }), `${at}.schedule`, /unknown key "schedule"/],
    ["a system directory as a write path", trim({ writePaths: ["/var/lib/ok", "/etc/cron.d"] }), `${at}.writePaths.1`, /inside \/etc, a system directory a job must not write/],
    ["homefleet's secrets as a write path", trim({ writePaths: ["/var/lib/homefleet/secrets"] }), `${at}.writePaths.0`, /inside \/var\/lib\/homefleet, a system directory/],
    ["a shared parent as a whole", trim({ writePaths: ["/var/lib"] }), `${at}.writePaths.0`, /shared system directory/],
    ["the root directory", trim({ writePaths: ["/"] }), `${at}.writePaths.0`, /the whole system/],
    ["a relative write path", trim({ writePaths: ["data/out"] }), `${at}.writePaths.0`, /expected an absolute path/],
    ["a '..' segment in a mount", trim({ mounts: ["/srv/../etc"] }), `${at}.mounts.0`, /"\." or "\.\." segments/],
    ["a relative program path", trim({ program: { debian: "fstrim" } }), `${at}.program.debian`, /absolute path/],
    ["a calendar systemd would reject", trim({ calendar: "*-*-* 25:00" }), `${at}.calendar`, /is not a calendar expression/],
    ["PATH in the environment", trim({ environment: { PATH: "/opt/bin" } }), `${at}.environment.PATH`, /homefleet sets PATH/],
    ["a specifier in the description", trim({ description: "100% of disks" }), `${at}.description`, /without % or \\/],
    ["a dependency without a unit type", trim({ after: ["postgresql"] }), `${at}.after.0`, /expected a unit name/],
    ["a capability that is not one", trim({ capabilities: ["SYS_ADMIN"] }), `${at}.capabilities.0`, /capability name/],
    ["a device outside /dev", trim({ devices: ["/tank/zfs"] }), `${at}.devices.0`, /device node/],
  ])("%s", (_what, job, path, message) => {
    const found = problems(fleet({ trim: job }));
    expect(found).toEqual([{ path, message: expect.stringMatching(message) }]);
  });

  it.each([
    ["homefleet-backup-config", /homefleet's own units/],
    ["podman-llm", /stack llm's container/],
    ["redis-server", /homefleet configures or disables/],
    ["prometheus-node-exporter", /Prometheus or exporter unit/],
  ])("a job named %s, like a unit homefleet writes", (name, message) => {
    expect(problems(fleet({ [name]: trim() }))).toEqual([{ path: `homefleet:hosts.box.jobs.${name}`, message: expect.stringMatching(message) }]);
  });

  it("a job named like another host's stack unit is fine here", () => {
    expect(() => parseFleetConfig(fleet({}, { "podman-llm": trim() }))).not.toThrow();
  });

  it("a program for the host's own flavour is required", () => {
    expect(problems(fleet({ trim: trim({ program: { nix: { pkg: "util-linux", bin: "fstrim" } } }) }, { scrub: trim({ program: { debian: "/usr/sbin/zpool" } }) }))).toEqual([
      { path: "homefleet:hosts.box.jobs.trim.program.debian", message: expect.stringMatching(/required on a plain systemd host/) },
      { path: "homefleet:hosts.pi.jobs.scrub.program.nix", message: expect.stringMatching(/required on a NixOS host/) },
    ]);
  });

  it("accepts only calendars that systemd-analyze calendar accepts too", () => {
    for (const calendar of ["Sun *-*-* 03:00:00", "*:0/15", "hourly", "*-*-1..7 04:30"]) {
      expect(() => parseFleetConfig(fleet({ trim: trim({ calendar }) }))).not.toThrow();
      expect({ calendar, status: run("systemd-analyze", ["calendar", calendar]).status }).toEqual({ calendar, status: 0 });
    }
    expect(run("systemd-analyze", ["calendar", "*-*-* 25:00"]).status).not.toBe(0);
  });
});

describe("the model", () => {
  const model = (boxJobs: Raw, piJobs: Raw = {}) => buildFleetModel(parseFleetConfig(fleet(boxJobs, piJobs)));
  const host = (m: ReturnType<typeof model>, name: string) => m.hosts.find((h) => h.name === name)!;

  it("makes a oneshot service and a timer of the job's name, with its config path on the timer", () => {
    const box = host(model({ trim: trim({ randomizedDelaySec: 300 }) }), "box");
    const service = box.operations.services.find((s) => s.name === "trim")!;
    expect(service).toMatchObject({ type: "oneshot", execStart: [{ program: { debian: "/usr/sbin/fstrim", nix: { pkg: "util-linux", bin: "fstrim" } }, args: ["--all"] }], service: { TimeoutStartSec: "14400s" } });
    expect(box.operations.timers.find((t) => t.name === "trim")).toEqual({
      name: "trim",
      description: "homefleet: schedule of job trim",
      onCalendar: "Sun *-*-* 03:00:00",
      persistent: true,
      randomizedDelaySec: 300,
      configPath: "homefleet:hosts.box.jobs.trim",
    });
  });

  it("gives no network unless asked, and then IPv4/IPv6 after network-online.target", () => {
    const box = host(model({ local: trim(), online: trim({ network: true, after: ["network-online.target"] }) }), "box");
    const local = box.operations.services.find((s) => s.name === "local")!;
    const online = box.operations.services.find((s) => s.name === "online")!;
    expect(local.hardening).toMatchObject({ PrivateNetwork: "yes", IPAddressDeny: "any", RestrictAddressFamilies: "AF_UNIX" });
    expect(local.after).toBeUndefined();
    expect(online.hardening).not.toHaveProperty("PrivateNetwork");
    expect(online.hardening).toMatchObject({ RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6", ProtectSystem: "strict", CapabilityBoundingSet: "" });
    expect(online).toMatchObject({ after: ["network-online.target"], wants: ["network-online.target"] });
  });

  it("makes write paths writable and mount requirements, opens home directories read-only for them, and keeps listed capabilities and devices only", () => {
    const box = host(
      model({
        sync: trim({ user: "johnw", writePaths: ["/home/johnw/Mail"], mounts: ["/home"], capabilities: ["CAP_NET_RAW"], devices: ["/dev/zfs"], requires: ["postgresql@15-main.service"], after: ["tank.mount"] }),
      }),
      "box",
    );
    const s = box.operations.services.find((x) => x.name === "sync")!;
    expect(s).toMatchObject({ user: "johnw", readWritePaths: ["/home/johnw/Mail"], requiresMountsFor: ["/home", "/home/johnw/Mail"], after: ["tank.mount", "postgresql@15-main.service"], requires: ["postgresql@15-main.service"] });
    expect(s.hardening).toMatchObject({ ProtectHome: "read-only", CapabilityBoundingSet: "CAP_NET_RAW", AmbientCapabilities: "CAP_NET_RAW", PrivateDevices: "no", DevicePolicy: "closed", DeviceAllow: ["/dev/zfs rw"] });
  });

  it("homefleet places its own timers after a job's window (its start plus 10 minutes of assumed run time)", () => {
    const withCert = (jobs: Raw) => {
      const raw = fleet(jobs);
      raw.hosts.box.certificates = { web: { domains: ["web.example.org"], issuer: "acme", acme: { email: "ops@example.org" } } };
      return buildFleetModel(parseFleetConfig(raw)).hosts.find((h) => h.name === "box")!.operations.timers.find((t) => t.name === "homefleet-cert-web")!.onCalendar;
    };
    expect(withCert({})).toBe("*-*-* 04:00:00");
    expect(withCert({ early: trim({ calendar: "*-*-* 04:00:00" }) })).toBe("*-*-* 04:10:00");
  });
});

describe("both printers", () => {
  const render = renderFleet(
    parseFleetConfig(
      fleet({ trim: trim({ description: "weekly TRIM", environment: { LC_ALL: "C.UTF-8" }, writePaths: ["/srv/trim-log"] }) }, { scrub: { program: { nix: { pkg: "zfs", bin: "zpool" } }, args: ["scrub", "tank"], calendar: "Sun *-*-1..7 04:30:00", devices: ["/dev/zfs"] } }),
    ),
  );
  const box = render.bundles.find((b) => b.host.name === "box")!;
  const pi = render.bundles.find((b) => b.host.name === "pi")!;
  const file = (path: string) => box.files.find((f) => f.path === path)?.content;

  it("Debian: a unit file and a timer file that systemd-analyze verify accepts with no output", () => {
    const service = file("/etc/systemd/system/trim.service")!;
    expect(service).toContain("\nDescription=weekly TRIM\n");
    expect(service).toContain("\nExecStart=/usr/sbin/fstrim --all\n");
    expect(service).toContain("\nReadWritePaths=/srv/trim-log\n");
    expect(service).toContain("\nRequiresMountsFor=/srv/trim-log\n");
    expect(service).toContain('\nEnvironment="LC_ALL=C.UTF-8"\n');
    expect(file("/etc/systemd/system/trim.timer")).toContain("\nOnCalendar=Sun *-*-* 03:00:00\nPersistent=yes\nRandomizedDelaySec=0s\nUnit=trim.service\n");
    // Every run ends by writing the job's metrics, as root outside the sandbox.
    expect(service).toContain("\nExecStopPost=+/usr/local/lib/homefleet/homefleet-job-metrics trim\n");
    expect(box.manifest.units).toEqual(expect.arrayContaining(["trim.service", "trim.timer"]));
    const verified = verifyUnits(box.files.filter((f) => /\/trim\.(service|timer)$|\/homefleet-job-metrics$/.test(f.path)));
    expect(verified.units).toEqual(["trim.service", "trim.timer"]);
    expect({ status: verified.status, stdout: verified.stdout, stderr: verified.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("NixOS: systemd.services and systemd.timers entries with the package's binary", () => {
    const ops = pi.files.find((f) => f.path.endsWith("/operations.nix"))!.content;
    expect(ops).toContain('ExecStart = [ "${pkgs.zfs}/bin/zpool scrub tank" ];');
    expect(ops).toContain('DeviceAllow = [ "/dev/zfs rw" ];');
    expect(ops).toMatch(/scrub = \{\n\s+description = "homefleet: schedule of job scrub";\n\s+timerConfig = \{\n\s+OnCalendar = "Sun \*-\*-1\.\.7 04:30:00";/);
  });
});

describe("the review's timer plan", () => {
  it("reports a job colliding with a backup timer at the job's config path", () => {
    const config = parseFleetConfig(fleet({ nightly: trim({ calendar: "*-*-* 02:00:00" }) }));
    const findings = reviewFleet({ config, render: renderFleet(config) }).findings.filter((f) => f.check === "timer-collision");
    expect(findings).toEqual([expect.objectContaining({ severity: "warning", host: "box", path: "homefleet:hosts.box.jobs.nightly", message: "homefleet-backup-postgresql and nightly start at the same time (02:00)" })]);
  });

  it("reads a NixOS host's job with a nixpkgs-only program, and reports its collision at its path", () => {
    const raw = fleet({}, { scrub: { program: { nix: { pkg: "zfs", bin: "zpool" } }, args: ["scrub", "tank"], calendar: "*-*-* 02:45:00" } });
    const config = parseFleetConfig(raw);
    const findings = reviewFleet({ config, render: renderFleet(config) }).findings.filter((f) => f.check === "timer-collision");
    expect(findings).toEqual([expect.objectContaining({ host: "pi", path: "homefleet:hosts.pi.jobs.scrub", message: "homefleet-backup-config and scrub start at the same time (02:45)" })]);
  });

  it("reports a job that is not Persistent, and none for a job that is clear of the others", () => {
    const config = parseFleetConfig(fleet({ quiet: trim({ calendar: "*-*-* 12:00:00", persistent: false }) }));
    const timers = reviewFleet({ config, render: renderFleet(config) }).findings.filter((f) => f.check.startsWith("timer-"));
    expect(timers).toEqual([expect.objectContaining({ check: "timer-persistent", path: "homefleet:hosts.box.jobs.quiet", message: "quiet.timer is not Persistent" })]);
  });
});

describe("a job's secret environment", () => {
  const sync = (extra: Raw = {}) => ({ program: { debian: "/usr/bin/git", nix: { pkg: "git", bin: "git" } }, args: ["fetch", "--all"], calendar: "*-*-* 00:00:00", network: true, secretEnvironment: { GITHUB_TOKEN: "config:githubToken" }, ...extra });

  it("reaches the job through a root-only environment file of secret config values, never through the unit", () => {
    const input = { ...fleet({ archive: sync() }, { archive: sync() }), configKeys: ["githubToken"], secretKeys: ["githubToken"] };
    const render = renderFleet(parseFleetConfig(input));
    for (const bundle of render.bundles) {
      expect(bundle.host.secretFiles).toContainEqual({ path: "/var/lib/homefleet/secrets/jobs/archive.env", owner: "root", group: "root", mode: "0400", format: "env", entries: [{ name: "GITHUB_TOKEN", parts: [{ secret: "config/githubToken" }] }] });
      expect(bundle.host.configSecrets).toContain("githubToken");
      expect(bundle.manifest.secretFiles.find((s) => s.path === "/var/lib/homefleet/secrets/jobs/archive.env")).toEqual({ path: "/var/lib/homefleet/secrets/jobs/archive.env", mode: "0400", owner: "root", group: "root" });
    }
    const box = render.bundles.find((b) => b.host.name === "box")!;
    const unit = box.files.find((f) => f.path === "/etc/systemd/system/archive.service")!.content;
    expect(unit).toContain("EnvironmentFile=/var/lib/homefleet/secrets/jobs/archive.env");
    expect(unit).not.toContain("GITHUB_TOKEN");
    expect(verifyUnits(box.files.filter((f) => f.path.startsWith("/etc/systemd/system/archive."))).stdout).toBe("");
    const pi = render.bundles.find((b) => b.host.name === "pi")!;
    expect(pi.files.find((f) => f.path.endsWith("/operations.nix"))!.content).toContain('EnvironmentFile = [ "/var/lib/homefleet/secrets/jobs/archive.env" ];');
  });

  it("refuses a key stored in plain text, and a variable given twice", () => {
    const plain = problems({ ...fleet({ archive: sync() }), configKeys: ["githubToken"], secretKeys: [] } as never);
    expect(plain).toEqual([{ path: "homefleet:githubToken", message: "holds a secret but is stored in plain text: set it again with pulumi config set --secret homefleet:githubToken < FILE" }]);
    const missing = problems({ ...fleet({ archive: sync() }), configKeys: [], secretKeys: [] } as never);
    expect(missing.map((p) => p.path)).toEqual(["homefleet:hosts.box.jobs.archive.secretEnvironment.GITHUB_TOKEN"]);
    const twice = problems({ ...fleet({ archive: sync({ environment: { GIT_REMOTE: "origin" }, secretEnvironment: { GITHUB_TOKEN: "config:githubToken", GIT_REMOTE: "config:githubToken" } }) }), configKeys: ["githubToken"], secretKeys: ["githubToken"] } as never);
    expect(twice).toEqual([{ path: "homefleet:hosts.box.jobs.archive.secretEnvironment.GIT_REMOTE", message: "GIT_REMOTE is also in environment: give it once" }]);
  });

  it("refuses a secret in plain environment or arguments, without repeating it", () => {
    const inClear = problems({ ...fleet({ archive: sync({ environment: { GITHUB_TOKEN: "ghp_CANARY", MIRROR: "https://git:ghp_CANARY@example.org/x" }, args: ["fetch", "--token", "ghp_CANARY", "--password=ghp_CANARY", "--password-file=/etc/pw", "--token", "--all"] }) }), configKeys: ["githubToken"], secretKeys: ["githubToken"] } as never);
    expect(inClear.map((p) => p.path)).toEqual([
      "homefleet:hosts.box.jobs.archive.args.2",
      "homefleet:hosts.box.jobs.archive.args.3",
      "homefleet:hosts.box.jobs.archive.environment.GITHUB_TOKEN",
      "homefleet:hosts.box.jobs.archive.environment.MIRROR",
    ]);
    expect(JSON.stringify(inClear)).not.toContain("CANARY");
    expect(inClear[2].message).toMatch(/^looks like a secret, .*: give it in secretEnvironment as config:<key>/);
  });
});

describe("a job's metrics (homefleet-job-metrics, its unit's ExecStopPost=)", () => {
  const script = join(__dirname, "..", "render", "scripts", "homefleet-job-metrics.sh");
  const dir = mkdtempSync(join(tmpdir(), "hf-job-metrics-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const runAs = (job: string, result: string) => spawnSync("bash", [script, job], { env: { PATH: process.env.PATH, HOMEFLEET_TEXTFILE_DIR: dir, SERVICE_RESULT: result, EXIT_STATUS: result === "success" ? "0" : "1" }, encoding: "utf8" });
  const metrics = () => readFileSync(join(dir, "homefleet_job_mbsync.prom"), "utf8");
  const value = (name: string) => metrics().match(new RegExp(`^${name}\\{job="mbsync"\\} (\\d+)$`, "m"))?.[1];

  it("a successful run: last run, status 1 and last success, in the exposition format promtool accepts", () => {
    const before = Math.floor(Date.now() / 1000);
    expect(runAs("mbsync", "success").status).toBe(0);
    expect(value("homefleet_job_last_status")).toBe("1");
    expect(Number(value("homefleet_job_last_success_timestamp_seconds"))).toBeGreaterThanOrEqual(before);
    expect(value("homefleet_job_last_run_timestamp_seconds")).toBe(value("homefleet_job_last_success_timestamp_seconds"));
    const checked = run("promtool", ["check", "metrics"], metrics());
    expect({ status: checked.status, out: `${checked.stdout}${checked.stderr}`.trim() }).toEqual({ status: 0, out: "" });
  });

  it("a failed run: status 0, the last success kept, the job's own result untouched (exit 0)", () => {
    const success = value("homefleet_job_last_success_timestamp_seconds");
    const failed = runAs("mbsync", "exit-code");
    expect(failed.status).toBe(0);
    expect(failed.stderr).toContain("job mbsync did not succeed (exit-code, exit status 1)");
    expect(value("homefleet_job_last_status")).toBe("0");
    expect(value("homefleet_job_last_success_timestamp_seconds")).toBe(success);
    expect(readdirSync(dir).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("refuses a name that is not a job's", () => {
    expect(runAs('x"} 1\nevil', "success").status).toBe(2);
    expect(readdirSync(dir)).toEqual(["homefleet_job_mbsync.prom"]);
  });
});
