/**
 * The off-site backup as it runs on a host: the rendered unit's exact arguments to the rendered
 * homefleet-backup-restic, against a real restic repository on local disk, with the password as a
 * systemd credential. It backs up backup.dir and the extra paths, writes its metrics, and keeps
 * what the retention says (monthly copies included), by restic's own forget.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { parseFleetConfig } from "../config/load";

jest.setTimeout(120_000);

describe("off-site backup with a real restic", () => {
  // Not under /tmp: config refuses it as a backup source (it is not data).
  const dir = mkdtempSync(join("/var/tmp", "hf-restic-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("backs up backup.dir and the extra paths, and forget keeps the monthly copies the config asks for", () => {
    const repo = join(dir, "repo");
    const backupDir = join(dir, "backup");
    const media = join(dir, "media");
    const render = renderFleet(
      parseFleetConfig({
        hosts: {
          box: {
            address: "192.0.2.10",
            arch: "x86_64",
            os: "systemd",
            backup: { dir: backupDir, offsite: { repository: repo, passwordConfig: "resticPassword", keepDaily: 1, keepWeekly: 0, keepMonthly: 2, keepYearly: 0, paths: [media] } },
          },
        },
        stacks: {},
        configKeys: ["resticPassword"],
        secretKeys: ["resticPassword"],
      }),
    );
    const host = render.bundles[0];
    const unit = host.host.operations.services.find((s) => s.name === "homefleet-backup-offsite")!;
    const [exec] = unit.execStart;
    expect(exec.args).toEqual(["backup", repo, "1", "0", "2", "0", "offsite", backupDir, media]);
    expect(unit.requiresMountsFor).toEqual([backupDir, media]);
    const script = host.files.find((f) => f.path === "/usr/local/lib/homefleet/homefleet-backup-restic")!.content;

    // The night's dumps and the extra data.
    mkdirSync(join(backupDir, "postgresql"), { recursive: true });
    writeFileSync(join(backupDir, "postgresql/app-20261130_020000.dump"), "dump\n");
    mkdirSync(media);
    writeFileSync(join(media, "photo.jpg"), "jpeg\n");
    const creds = join(dir, "credentials");
    mkdirSync(creds);
    writeFileSync(join(creds, "restic-password"), "drill-password");
    const metrics = join(dir, "metrics");
    mkdirSync(metrics);
    writeFileSync(join(dir, "homefleet-backup-restic"), script, { mode: 0o755 });
    const env = { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: join(creds, "restic-password"), RESTIC_CACHE_DIR: join(dir, "cache") };
    const restic = (...args: string[]) => {
      const r = spawnSync("restic", args, { env, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`restic ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };

    // Earlier nights, as the job would have left them: one snapshot in each of three old months.
    restic("init");
    for (const time of ["2025-09-15 03:30:00", "2025-10-15 03:30:00", "2025-11-15 03:30:00"]) restic("backup", "--tag", "homefleet", "--host", hostname(), "--time", time, backupDir);

    const run = spawnSync(join(dir, "homefleet-backup-restic"), exec.args, {
      env: { ...process.env, CREDENTIALS_DIRECTORY: creds, HOMEFLEET_TEXTFILE_DIR: metrics, RESTIC_CACHE_DIR: join(dir, "cache") },
      encoding: "utf8",
    });
    expect({ status: run.status, stderr: run.stderr.split("\n").filter((l) => /error|fatal/i.test(l)) }).toEqual({ status: 0, stderr: [] });

    const snapshots = JSON.parse(restic("snapshots", "--json")) as { time: string; paths: string[] }[];
    const months = snapshots.map((s) => s.time.slice(0, 7)).sort();
    // Daily 1 keeps tonight's; monthly 2 keeps tonight's month and the newest older month.
    expect(months).toEqual(["2025-11", new Date().toISOString().slice(0, 7)].sort());
    const tonight = snapshots.find((s) => s.paths.includes(media))!;
    expect([...tonight.paths].sort()).toEqual([backupDir, media].sort());
    const listed = restic("ls", "latest", "--json");
    expect(listed).toContain(join(media, "photo.jpg"));
    expect(listed).toContain(join(backupDir, "postgresql/app-20261130_020000.dump"));

    const prom = readFileSync(join(metrics, "homefleet_backup_offsite.prom"), "utf8");
    expect(prom).toMatch(/^homefleet_backup_last_status\{job="offsite",kind="restic"\} 1$/m);
  });
});
