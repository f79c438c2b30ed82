/**
 * Several restic repositories per host (`homefleet:hosts.<host>.backup.repositories.<name>`) and
 * container volumes backed up by one (`volumes[].repository`): config errors name their config
 * path; each repository is its own unit and timer with every path a mount requirement; both
 * flavours print them (systemd-analyze verify, nix-instantiate --parse); the review places their
 * timers, orders the ones that carry backup.dir after the dumps and knows what a volume carried
 * by a repository is. tests/restic.drill.test.ts runs a rendered repository unit's arguments
 * against a real restic.
 */
import { renderFleet } from "../bundle/hostBundle";
import { parseFleetConfig, type ConfigProblem } from "../config/load";
import { buildFleetModel } from "../model/build";
import { reviewFleet } from "../review";
import { reviewMarkdown } from "../review/report";
import type { HostModel } from "../model/specs";
import { nixParse, verifyUnits } from "./support/validators";
import { configProblems } from "./support/configProblems";

type Raw = Record<string, any>;

/** The secret config keys the fleet names (every one set, as the stack file would). */
function withKeys(raw: Raw): Parameters<typeof parseFleetConfig>[0] {
  if (raw.configKeys) return raw as never;
  const keys = new Set<string>();
  JSON.stringify(raw, (key, value) => {
    if ((key === "passwordConfig" || key === "environmentConfig") && typeof value === "string") keys.add(value);
    return value;
  });
  return { ...raw, configKeys: [...keys] } as never;
}

/** Host `box` (Debian) and host `pi` (NixOS), each with the repositories given, and a wallabag stack on each. */
function fleet(boxRepos: Raw | undefined, piRepos: Raw | undefined = undefined, volumes: Raw[] = []): { hosts: Raw; stacks: Raw; configKeys?: string[] } {
  const backup = (repositories: Raw | undefined) => ({ dir: "/tank/Backups/homefleet", ...(repositories ? { repositories } : {}) });
  const app = (host: string, subnet: string, vols: Raw[] = []) => ({
    host,
    network: { subnet },
    container: { image: "docker.io/wallabag/wallabag:2.6.10", port: 80, healthCheck: { path: "/login" }, volumes: vols },
    database: {},
  });
  return {
    hosts: {
      box: { address: "192.0.2.10", arch: "x86_64", os: "systemd", backup: backup(boxRepos) },
      pi: { address: "192.0.2.11", arch: "aarch64", os: "nixos", backup: backup(piRepos) },
    },
    stacks: { app: app("box", "10.89.0.0/24", volumes), web: app("pi", "10.89.1.0/24") },
  };
}

const repo = (extra: Raw = {}): Raw => ({ repository: "s3:s3.us-west-001.backblazeb2.com/photos", passwordConfig: "photosPassword", environmentConfig: "b2Environment", paths: ["/tank/Photos"], ...extra });

const problems = (input: Raw): ConfigProblem[] => configProblems(withKeys(input));

const hostOf = (input: Raw, name: string): HostModel => buildFleetModel(parseFleetConfig(withKeys(input))).hosts.find((h) => h.name === name)!;

describe("config errors name the repository's config path", () => {
  const at = "homefleet:hosts.box.backup.repositories.Photos";
  it.each<[string, Raw, string, RegExp]>([
    ["no paths", repo({ paths: [] }), `${at}.paths`, /at least one path/],
    ["a relative path", repo({ paths: ["tank/Photos"] }), `${at}.paths.0`, /expected an absolute path/],
    ["the root directory", repo({ paths: ["/"] }), `${at}.paths.0`, /"\/" is not data/],
    ["/proc", repo({ paths: ["/tank/Photos", "/proc/1"] }), `${at}.paths.1`, /"\/proc\/1" is not data/],
    ["/run", repo({ paths: ["/run"] }), `${at}.paths.0`, /"\/run" is not data/],
    ["/tmp", repo({ paths: ["/tmp/x"] }), `${at}.paths.0`, /"\/tmp\/x" is not data/],
    ["a '..' segment", repo({ paths: ["/tank/../etc"] }), `${at}.paths.0`, /"\." or "\.\." segments/],
    ["a malformed mount", repo({ mounts: ["/tank//Photos"] }), `${at}.mounts.0`, /empty segments/],
    ["a password in the URL", repo({ repository: "rest:https://backup:s3cr3t@nas.lan:8000/photos" }), `${at}.repository`, /holds a password in the URL/],
    ["a schedule that is not a time of day", repo({ schedule: "2am" }), `${at}.schedule`, /time of day/],
    ["a check calendar systemd would reject", repo({ checkCalendar: "Sun 25:00" }), `${at}.checkCalendar`, /is not a calendar expression/],
    ["no daily snapshot kept", repo({ keepDaily: 0 }), `${at}.keepDaily`, />=1/],
    ["an exclude pattern ending in a backslash", repo({ exclude: ["*.tmp", "cache\\"] }), `${at}.exclude.1`, /does not end with/],
    ["a local repository in a system directory", repo({ repository: "/var/lib/homefleet/restic" }), `${at}.repository`, /inside \/var\/lib\/homefleet, a system directory/],
    ["a local repository path with other characters", repo({ repository: "local:/mnt/usb/re$tic" }), `${at}.repository`, /a path of letters, digits/],
    ["an unknown key", repo({ keepMonthy: 12 }), `${at}.keepMonthy`, /unknown key "keepMonthy" \(did you mean "keepMonthly"\?\)/],
  ])("%s", (_what, spec, path, message) => {
    const found = problems(fleet({ Photos: spec }));
    expect(found).toEqual([{ path, message: expect.stringMatching(message) }]);
  });

  it("never prints the password it refuses in a URL", () => {
    const [p] = problems(fleet({ Photos: repo({ repository: "rest:https://backup:s3cr3t@nas.lan:8000/photos" }) }));
    expect(p.message).not.toContain("s3cr3t");
  });

  it("refuses a repository name that is not one", () => {
    expect(problems(fleet({ "9lives": repo() }))).toEqual([{ path: "homefleet:hosts.box.backup.repositories.9lives", message: expect.stringMatching(/bad name: expected a repository name/) }]);
  });

  it("refuses two repositories with one URL on a host, and one that is the off-site copy's", () => {
    const raw = fleet({ Photos: repo(), Pictures: repo({ paths: ["/tank/Pictures"] }) });
    expect(problems(raw)).toEqual([{ path: "homefleet:hosts.box.backup.repositories.Pictures.repository", message: expect.stringMatching(/is also the repository of backup.repositories.Photos: .*thin the other's snapshots/) }]);
    const withOffsite = fleet({ Photos: repo() });
    withOffsite.hosts.box.backup.offsite = { repository: repo().repository, passwordConfig: "resticPassword" };
    expect(problems(withOffsite)).toEqual([{ path: "homefleet:hosts.box.backup.repositories.Photos.repository", message: expect.stringMatching(/is also the repository of backup.offsite/) }]);
  });

  it("the same URL on two hosts is fine: each host's snapshots are a group of their own", () => {
    expect(() => parseFleetConfig(withKeys(fleet({ Photos: repo() }, { Photos: repo() })))).not.toThrow();
  });

  it("requires the password and environment keys to be set, as secrets", () => {
    expect(problems({ ...fleet({ Photos: repo() }), configKeys: [] })).toEqual([
      { path: `${at}.environmentConfig`, message: "config key homefleet:b2Environment is not set (pulumi config set --secret homefleet:b2Environment < FILE)" },
      { path: `${at}.passwordConfig`, message: "config key homefleet:photosPassword is not set (pulumi config set --secret homefleet:photosPassword < FILE)" },
    ]);
    expect(problems({ ...fleet({ Photos: repo() }), configKeys: ["photosPassword", "b2Environment"], secretKeys: ["b2Environment"] })).toEqual([
      { path: "homefleet:photosPassword", message: expect.stringMatching(/holds a secret but is stored in plain text/) },
    ]);
  });

  describe("a volume backed up by a repository", () => {
    const vol = (extra: Raw) => [{ source: "/tank/Photos/app", target: "/data", ...extra }];
    const where = "homefleet:stacks.app.container.volumes.0.repository";
    it("must name a repository of the stack's host", () => {
      expect(problems(fleet({ Photos: repo() }, undefined, vol({ repository: "Video" })))).toEqual([{ path: where, message: 'unknown repository "Video" (repositories of host box: Photos)' }]);
      // pi's repository is not box's.
      expect(problems(fleet(undefined, { Photos: repo() }, vol({ repository: "Photos" })))).toEqual([{ path: where, message: 'unknown repository "Photos" (repositories of host box: none)' }]);
    });
    it("must be in one of the repository's paths", () => {
      expect(problems(fleet({ Photos: repo() }, undefined, [{ source: "/tank/Photography", target: "/data", repository: "Photos" }]))).toEqual([
        { path: where, message: "repository Photos does not back up /tank/Photography: add it (or a directory above it) to homefleet:hosts.box.backup.repositories.Photos.paths" },
      ]);
    });
    it("is not also ephemeral", () => {
      expect(problems(fleet({ Photos: repo() }, undefined, vol({ repository: "Photos", ephemeral: true })))).toEqual([{ path: where, message: expect.stringMatching(/either ephemeral .* or backed up by a repository, not both/) }]);
    });
  });
});

describe("the model", () => {
  it("makes a oneshot unit per repository: its arguments, every path and mount a mount requirement, its own secret files", () => {
    const box = hostOf(fleet({ Photos: repo({ paths: ["/tank/Photos", "/home/johnw/Pictures"], exclude: ["*.tmp", "/tank/Photos/.zfs"], mounts: ["/tank/Photos/2024"], keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 0, schedule: "01:15" }) }), "box");
    const unit = box.operations.services.find((s) => s.name === "homefleet-backup-repository-Photos")!;
    expect(unit.execStart).toEqual([
      {
        program: { script: "homefleet-backup-repository" },
        args: ["backup", "repository-Photos", "s3:s3.us-west-001.backblazeb2.com/photos", "7", "4", "12", "0", "--exclude=*.tmp", "--exclude=/tank/Photos/.zfs", "--", "/tank/Photos", "/home/johnw/Pictures"],
      },
    ]);
    expect(unit.requiresMountsFor).toEqual(["/tank/Photos", "/home/johnw/Pictures", "/tank/Photos/2024"]);
    expect(unit.credentials).toEqual([{ name: "restic-password", path: "/var/lib/homefleet/secrets/backup/repositories/Photos/password" }]);
    expect(unit.environmentFiles).toEqual(["/var/lib/homefleet/secrets/backup/repositories/Photos/restic.env"]);
    // It does not carry backup.dir: nothing orders it after the dumps.
    expect(unit.after).toEqual(["network-online.target"]);
    // A home directory it backs up is readable (bound in read-only), and no other home directory.
    expect(unit.hardening).toMatchObject({ ProtectHome: "tmpfs", BindReadOnlyPaths: ["-/home/johnw/Pictures"], ProtectSystem: "strict", CapabilityBoundingSet: "CAP_DAC_READ_SEARCH" });
    expect(box.secretFiles.map((f) => f.path)).toEqual(expect.arrayContaining(["/var/lib/homefleet/secrets/backup/repositories/Photos/password", "/var/lib/homefleet/secrets/backup/repositories/Photos/restic.env"]));
    expect(box.configSecrets).toEqual(expect.arrayContaining(["photosPassword", "b2Environment"]));
    expect(box.packages).toContain("restic");
    expect(box.operations.timers.find((t) => t.name === "homefleet-backup-repository-Photos")).toEqual({
      name: "homefleet-backup-repository-Photos",
      description: "homefleet: backup to restic repository Photos",
      onCalendar: "*-*-* 01:15:00",
      persistent: true,
      randomizedDelaySec: 600,
      configPath: "homefleet:hosts.box.backup.repositories.Photos",
    });
    expect(box.operations.backups.find((b) => b.kind === "repository")).toEqual({
      job: "homefleet-backup-repository-Photos",
      kind: "repository",
      repository: "Photos",
      saves: ["/tank/Photos", "/home/johnw/Pictures"],
      destination: "s3:s3.us-west-001.backblazeb2.com/photos",
      retention: "7 daily, 4 weekly, 12 monthly, 0 yearly snapshots",
      onCalendar: "*-*-* 01:15:00",
    });
    // No checkCalendar, no check.
    expect(box.operations.services.some((s) => s.name.startsWith("homefleet-check-repository-"))).toBe(false);
  });

  it("orders a repository whose paths hold backup.dir after every local backup of the night", () => {
    const box = hostOf(fleet({ Backups: repo({ paths: ["/tank/Backups"] }) }, undefined, [{ source: "/srv/app", target: "/data" }]), "box");
    const unit = box.operations.services.find((s) => s.name === "homefleet-backup-repository-Backups")!;
    expect(unit.after).toEqual(["homefleet-backup-postgresql.service", "homefleet-backup-config.service", "homefleet-backup-volumes-app.service", "network-online.target"]);
    expect(box.operations.backups.find((b) => b.kind === "repository")).toMatchObject({ carriesLocalBackups: true });
  });

  it("creates and writes a repository on a local disk, and requires its mount", () => {
    const box = hostOf(fleet({ Usb: repo({ repository: "local:/mnt/usb/restic", environmentConfig: undefined, checkCalendar: "Sun *-*-* 06:00:00" }) }), "box");
    const unit = box.operations.services.find((s) => s.name === "homefleet-backup-repository-Usb")!;
    // Created before each run from the host's tmpfiles rule (the sandbox needs it to exist).
    expect(box.operations.directories).toContainEqual({ path: "/mnt/usb/restic", mode: "0700", user: "root", group: "root" });
    expect(unit.execStartPre).toEqual([{ program: { debian: "/usr/bin/systemd-tmpfiles", nix: { pkg: "systemd", bin: "systemd-tmpfiles" } }, args: ["--create", "--prefix=/mnt/usb/restic"], privileged: true }]);
    expect(unit.readWritePaths).toEqual(["/var/cache/homefleet-restic", "/var/lib/prometheus/node-exporter", "-/mnt/usb/restic"]);
    expect(unit.requiresMountsFor).toEqual(["/tank/Photos", "/mnt/usb/restic"]);
    expect(unit.environmentFiles).toEqual([]);
    const check = box.operations.services.find((s) => s.name === "homefleet-check-repository-Usb")!;
    expect(check.execStart[0].args).toEqual(["check", "check-repository-Usb", "local:/mnt/usb/restic"]);
    expect(check).toMatchObject({ after: ["homefleet-backup-repository-Usb.service", "network-online.target"], requiresMountsFor: ["/mnt/usb/restic"] });
    expect(box.operations.backups.find((b) => b.kind === "repository")!.check).toEqual({ job: "homefleet-check-repository-Usb", onCalendar: "Sun *-*-* 06:00:00" });
  });

  it("places a repository without a schedule after the last local backup window, one after another", () => {
    const box = hostOf(fleet({ b: repo({ repository: "/srv/restic/b" }), a: repo({ repository: "/srv/restic/a" }) }, undefined, [{ source: "/srv/app", target: "/data" }]), "box");
    const at = (name: string) => box.operations.timers.find((t) => t.name === name)!.onCalendar;
    // Dump 02:00, config archive 02:45 (window to 03:05), volumes placed 03:05 (to 03:25).
    expect(at("homefleet-backup-volumes-app")).toBe("*-*-* 03:05:00");
    expect([at("homefleet-backup-repository-a"), at("homefleet-backup-repository-b")]).toEqual(["*-*-* 03:30:00", "*-*-* 03:50:00"]);
  });

  it("does not archive a volume a repository backs up; its other volumes still are", () => {
    const box = hostOf(fleet({ Photos: repo() }, undefined, [{ source: "/tank/Photos/app", target: "/data", repository: "Photos" }, { source: "/srv/app/config", target: "/config" }]), "box");
    expect(box.operations.backups.find((b) => b.kind === "volumes")!.saves).toEqual(["/srv/app/config"]);
    // The container still waits for the pool.
    expect(box.stacks[0].container!.requiresMountsFor).toEqual(["/srv/app/config", "/tank/Photos/app"]);
    const only = hostOf(fleet({ Photos: repo() }, undefined, [{ source: "/tank/Photos/app", target: "/data", repository: "Photos" }]), "box");
    expect(only.operations.backups.some((b) => b.kind === "volumes")).toBe(false);
  });
});

describe("both printers", () => {
  const raw = fleet(
    { Photos: repo({ exclude: ["*.tmp", "100% cache", "$HOME"], keepMonthly: 12, schedule: "04:00", checkCalendar: "Sun *-*-* 06:00:00" }), Backups: repo({ repository: "sftp:backup@nas:/srv/restic/box", paths: ["/tank/Backups"] }) },
    { Home: repo({ repository: "s3:s3.us-west-001.backblazeb2.com/home", paths: ["/home/johnw"], checkCalendar: "Sun *-*-* 06:30:00" }) },
  );
  const render = renderFleet(parseFleetConfig(withKeys(raw)));
  const box = render.bundles.find((b) => b.host.name === "box")!;
  const pi = render.bundles.find((b) => b.host.name === "pi")!;

  it("Debian: unit and timer files that systemd-analyze verify accepts with no output, and the script installed", () => {
    const files = box.files.filter((f) => /\/homefleet-(backup|check)-repository-[A-Za-z]+\.(service|timer)$/.test(f.path));
    const verified = verifyUnits([...files, box.files.find((f) => f.path === "/usr/local/lib/homefleet/homefleet-backup-repository")!]);
    expect(verified.units).toEqual([
      "homefleet-backup-repository-Backups.service",
      "homefleet-backup-repository-Backups.timer",
      "homefleet-backup-repository-Photos.service",
      "homefleet-backup-repository-Photos.timer",
      "homefleet-check-repository-Photos.service",
      "homefleet-check-repository-Photos.timer",
    ]);
    expect({ status: verified.status, stdout: verified.stdout, stderr: verified.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
    const service = files.find((f) => f.path.endsWith("/homefleet-backup-repository-Photos.service"))!.content;
    // % is doubled and $ too: the patterns reach restic as written.
    expect(service).toContain('\nExecStart=/usr/local/lib/homefleet/homefleet-backup-repository backup repository-Photos s3:s3.us-west-001.backblazeb2.com/photos 7 5 12 3 "--exclude=*.tmp" "--exclude=100%% cache" "--exclude=$$HOME" -- /tank/Photos\n');
    expect(service).toContain("\nRequiresMountsFor=/tank/Photos\n");
    expect(service).toContain("\nLoadCredential=restic-password:/var/lib/homefleet/secrets/backup/repositories/Photos/password\n");
    expect(files.find((f) => f.path.endsWith("/homefleet-backup-repository-Photos.timer"))!.content).toContain("\nOnCalendar=*-*-* 04:00:00\n");
    expect(box.files.some((f) => f.path === "/usr/local/lib/homefleet/homefleet-backup-repository")).toBe(true);
    expect(box.manifest.units).toEqual(expect.arrayContaining(["homefleet-backup-repository-Photos.timer", "homefleet-check-repository-Photos.timer"]));
  });

  it("NixOS: systemd.services and systemd.timers of homefleet's own units, the module parses", () => {
    const ops = pi.files.find((f) => f.path.endsWith("/operations.nix"))!.content;
    expect(nixParse(ops)).toMatchObject({ status: 0, stderr: "" });
    expect(ops).toContain('"${homefleetBackupRepository}/bin/homefleet-backup-repository backup repository-Home s3:s3.us-west-001.backblazeb2.com/home 7 5 0 3 -- /home/johnw"');
    expect(ops).toContain('unitConfig.RequiresMountsFor = [ "/home/johnw" ];');
    expect(ops).toMatch(/homefleet-check-repository-Home = \{\n\s+description = "homefleet: check of restic repository Home";\n\s+timerConfig = \{\n\s+OnCalendar = "Sun \*-\*-\* 06:30:00";/);
    expect(pi.files.some((f) => f.path.endsWith("/scripts/homefleet-backup-repository.sh"))).toBe(true);
  });
});

describe("the review", () => {
  const review = (raw: Raw) => {
    const config = parseFleetConfig(withKeys(raw));
    const render = renderFleet(config);
    return { render, review: reviewFleet({ config, render }) };
  };

  it("lists each repository's timer in the timer plan", () => {
    const r = review(fleet({ Photos: repo({ schedule: "04:00", checkCalendar: "Sun *-*-* 06:00:00" }), Video: repo({ repository: "/srv/restic/video", paths: ["/tank/Video"] }) }));
    const md = reviewMarkdown({ title: "t", ...r });
    expect(md).toContain("  homefleet-backup-repository-Photos :04:00, 20m\n");
    expect(md).toContain("  homefleet-check-repository-Photos (Sun) :06:00, 20m\n");
    expect(md).toMatch(/\n {2}homefleet-backup-repository-Video :03:[0-9]{2}, 20m\n/);
  });

  it("warns when a repository that carries backup.dir starts before the dumps end, at its schedule", () => {
    const findings = review(fleet({ Backups: repo({ paths: ["/tank/Backups"], schedule: "02:50" }) })).review.findings.filter((f) => f.check === "timer-order");
    expect(findings).toEqual([
      expect.objectContaining({ severity: "warning", path: "homefleet:hosts.box.backup.repositories.Backups.schedule", message: "repository Backups starts at 02:50, before homefleet-backup-config may have finished (03:05); its paths hold backup.dir" }),
    ]);
    // One that does not carry backup.dir may run with the dumps (only the collision is reported).
    const other = review(fleet({ Photos: repo({ schedule: "02:50" }) })).review.findings;
    expect(other.filter((f) => f.check === "timer-order")).toEqual([]);
    expect(other.filter((f) => f.check === "timer-collision")).toEqual([expect.objectContaining({ path: "homefleet:hosts.box.backup.repositories.Photos", message: "homefleet-backup-config (02:45-03:05) overlaps homefleet-backup-repository-Photos (02:50-03:10)" })]);
  });

  it("reports repositories started together as collisions, at the later one's path", () => {
    const findings = review(fleet({ A: repo({ repository: "/srv/restic/a", schedule: "04:00" }), B: repo({ repository: "/srv/restic/b", schedule: "04:00" }) })).review.findings.filter((f) => f.check === "timer-collision");
    expect(findings).toEqual([expect.objectContaining({ path: "homefleet:hosts.box.backup.repositories.B", message: "homefleet-backup-repository-A and homefleet-backup-repository-B start at the same time (04:00)" })]);
  });

  it("a live database's volume carried by restic is the same risk as archiving it live", () => {
    const raw = fleet({ Db: repo({ paths: ["/srv/pg"] }) });
    raw.stacks.db = { host: "box", network: { subnet: "10.89.2.0/24" }, container: { image: "docker.io/library/postgres:16.4", port: 5432, publish: { hostPort: 5433 }, healthCheck: { path: "/" }, volumes: [{ source: "/srv/pg", target: "/var/lib/postgresql/data", repository: "Db" }] } };
    const findings = review(raw).review.findings.filter((f) => f.check === "volume-live-database");
    expect(findings).toEqual([expect.objectContaining({ path: "homefleet:stacks.db.container.volumes.0", message: "/srv/pg holds postgres files, backed up by restic repository Db while the container runs" })]);
  });

  it("notes a volume archived nightly that a repository also backs up, and none once it names the repository", () => {
    const twice = review(fleet({ Photos: repo() }, undefined, [{ source: "/tank/Photos/app", target: "/data" }])).review.findings.filter((f) => f.check === "backup-coverage" && f.severity === "info");
    expect(twice).toEqual([
      expect.objectContaining({ severity: "info", path: "homefleet:stacks.app.container.volumes.0", message: "/tank/Photos/app is archived nightly into backup.dir and is also backed up by restic repository Photos", fix: "Set repository: Photos on the volume to leave it to the repository alone." }),
    ]);
    const once = review(fleet({ Photos: repo() }, undefined, [{ source: "/tank/Photos/app", target: "/data", repository: "Photos" }])).review.findings.filter((f) => f.check === "backup-coverage" && f.severity === "info");
    expect(once).toEqual([]);
  });

  it("names the repository in the coverage table", () => {
    const r = review(fleet({ Photos: repo({ schedule: "04:00" }) }, undefined, [{ source: "/tank/Photos/app", target: "/data", repository: "Photos" }]));
    expect(reviewMarkdown({ title: "t", ...r })).toContain("| box | app | podman-app | restic repository Photos 04:00 |");
  });
});
