/**
 * The off-site backup as it runs on a host: the rendered unit's exact arguments to the rendered
 * homefleet-backup-restic, against a real restic repository on local disk, with the password as a
 * systemd credential. It backs up backup.dir and the extra paths, writes its metrics, and keeps
 * what the retention says (monthly copies included), by restic's own forget.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { parseFleetConfig } from "../config/load";
import { dataScratch } from "./support/dataScratch";

jest.setTimeout(120_000);

/** The render of one Debian host `box` with these backup settings; `secretKeys` are set as secrets. */
function renderBox(backup: Record<string, unknown>, secretKeys: string[]) {
  return renderFleet(parseFleetConfig({ hosts: { box: { address: "192.0.2.10", arch: "x86_64", os: "systemd", backup } }, stacks: {}, configKeys: secretKeys, secretKeys }));
}

describe("off-site backup with a real restic", () => {
  const dir = dataScratch("hf-restic-");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("backs up backup.dir and the extra paths, and forget keeps the monthly copies the config asks for", () => {
    const repo = join(dir, "repo");
    const backupDir = join(dir, "backup");
    const media = join(dir, "media");
    const render = renderBox({ dir: backupDir, offsite: { repository: repo, passwordConfig: "resticPassword", keepDaily: 1, keepWeekly: 0, keepMonthly: 2, keepYearly: 0, paths: [media] } }, ["resticPassword"]);
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

describe("two restic repositories of a host, with a real restic", () => {
  const dir = dataScratch("hf-repos-");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const DAY = 86_400_000;

  /** restic's retention as its manual states it: per rule, the newest snapshot of each of the N newest periods that have one. */
  function kept(times: Date[], rules: { daily: number; weekly: number; monthly: number }): Set<number> {
    const iso = (d: Date) => d.toISOString();
    const isoWeek = (d: Date) => {
      const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
      t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7));
      const week = Math.ceil(((t.getTime() - Date.UTC(t.getUTCFullYear(), 0, 1)) / DAY + 1) / 7);
      return `${t.getUTCFullYear()}-W${week}`;
    };
    const buckets: [number, (d: Date) => string][] = [
      [rules.daily, (d) => iso(d).slice(0, 10)],
      [rules.weekly, isoWeek],
      [rules.monthly, (d) => iso(d).slice(0, 7)],
    ];
    const newestFirst = [...times].sort((a, b) => b.getTime() - a.getTime());
    const keep = new Set<number>();
    for (const [count, bucket] of buckets) {
      const seen = new Set<string>();
      for (const t of newestFirst) {
        const b = bucket(t);
        if (seen.has(b)) continue;
        if (seen.size >= count) break;
        seen.add(b);
        keep.add(t.getTime());
      }
    }
    return keep;
  }

  it("backs up each repository's paths without the excluded files, keeps 7 daily, 4 weekly and 12 monthly snapshots, and writes each one's metrics", () => {
    const repoA = join(dir, "repo-a");
    const repoB = join(dir, "repo-b");
    const docs = join(dir, "docs");
    const home = join(dir, "home");
    const photos = join(dir, "photos");
    const render = renderBox(
      {
        repositories: {
          Docs: { repository: repoA, passwordConfig: "docsPassword", paths: [docs, home], exclude: ["*.tmp", join(home, "cache")], checkCalendar: "Sun *-*-* 06:00:00" },
          Photos: { repository: repoB, passwordConfig: "photosPassword", paths: [photos], keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 0, schedule: "04:00" },
        },
      },
      ["docsPassword", "photosPassword"],
    );
    const host = render.bundles[0];
    const args = (unit: string) => host.host.operations.services.find((s) => s.name === unit)!.execStart[0].args;
    expect(args("homefleet-backup-repository-Photos")).toEqual(["backup", "repository-Photos", repoB, "7", "4", "12", "0", "--", photos]);
    const script = join(dir, "homefleet-backup-repository");
    writeFileSync(script, host.files.find((f) => f.path === "/usr/local/lib/homefleet/homefleet-backup-repository")!.content, { mode: 0o755 });

    mkdirSync(docs);
    writeFileSync(join(docs, "letter.txt"), "dear\n");
    writeFileSync(join(docs, "draft.tmp"), "scratch\n");
    mkdirSync(join(home, "cache"), { recursive: true });
    writeFileSync(join(home, "notes.md"), "notes\n");
    writeFileSync(join(home, "cache", "blob"), "cached\n");
    mkdirSync(photos);
    writeFileSync(join(photos, "cat.jpg"), "jpeg\n");

    const metrics = join(dir, "metrics");
    mkdirSync(metrics);
    // Each unit has its own credentials directory; the passwords differ.
    const credentials = (name: string, password: string) => {
      const d = join(dir, `credentials-${name}`);
      mkdirSync(d);
      writeFileSync(join(d, "restic-password"), password);
      return d;
    };
    const creds = { Docs: credentials("Docs", "docs-drill-password"), Photos: credentials("Photos", "photos-drill-password") };
    const env = { ...process.env, TZ: "UTC", RESTIC_CACHE_DIR: join(dir, "cache") };
    const restic = (repo: string, password: string, ...a: string[]) => {
      const r = spawnSync("restic", a, { env: { ...env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: join(creds[password as keyof typeof creds], "restic-password") }, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`restic ${a.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    const runUnit = (unit: string, name: keyof typeof creds) => spawnSync(script, args(unit), { env: { ...env, CREDENTIALS_DIRECTORY: creds[name], HOMEFLEET_TEXTFILE_DIR: metrics }, encoding: "utf8" });

    // Photos' earlier nights, as the job would have left them: daily for eight days, weekly for four weeks, then monthly for over a year.
    const now = Date.now();
    const daysAgo = [1, 2, 3, 4, 5, 6, 7, 8, 14, 21, 28, ...Array.from({ length: 13 }, (_, i) => 60 + 30 * i)];
    restic(repoB, "Photos", "init");
    const earlier = daysAgo.map((d) => new Date(Math.floor((now - d * DAY) / DAY) * DAY + 12 * 3_600_000));
    for (const t of earlier) restic(repoB, "Photos", "backup", "--tag", "homefleet", "--host", hostname(), "--time", t.toISOString().slice(0, 19).replace("T", " "), photos);

    for (const [unit, name] of [["homefleet-backup-repository-Docs", "Docs"], ["homefleet-backup-repository-Photos", "Photos"], ["homefleet-check-repository-Docs", "Docs"]] as const) {
      const run = runUnit(unit, name);
      expect({ unit, status: run.status, errors: run.stderr.split("\n").filter((l) => /error|fatal/i.test(l)) }).toEqual({ unit, status: 0, errors: [] });
    }

    // Docs: both paths in one snapshot (the repository was initialised by its first run), without the excluded files.
    const listed = restic(repoA, "Docs", "ls", "latest");
    expect(listed).toContain(join(docs, "letter.txt"));
    expect(listed).toContain(join(home, "notes.md"));
    expect(listed).not.toContain("draft.tmp");
    expect(listed).not.toContain(join(home, "cache"));
    const [docsSnapshot] = JSON.parse(restic(repoA, "Docs", "snapshots", "--json")) as { paths: string[]; tags: string[] }[];
    expect({ paths: [...docsSnapshot.paths].sort(), tags: docsSnapshot.tags }).toEqual({ paths: [docs, home].sort(), tags: ["homefleet"] });

    // Photos: what is left is exactly what 7 daily, 4 weekly and 12 monthly keep of the 25 snapshots.
    const snapshots = JSON.parse(restic(repoB, "Photos", "snapshots", "--json")) as { time: string }[];
    // The one the unit made just now: every earlier night is at least 12 hours back (noon of a past day).
    const all = [...earlier, ...snapshots.map((s) => new Date(s.time)).filter((t) => t.getTime() > now - 3_600_000)];
    expect(all).toHaveLength(daysAgo.length + 1);
    const expected = kept(all, { daily: 7, weekly: 4, monthly: 12 });
    // The policy removes some (the oldest months, the older days of a week already kept).
    expect(expected.size).toBeLessThan(all.length);
    expect(snapshots.map((s) => new Date(s.time).getTime()).sort()).toEqual([...expected].sort());
    expect(snapshots.length).toBeGreaterThanOrEqual(12);
    // And restic, asked again with the same policy, would remove nothing more.
    const dryRun = JSON.parse(restic(repoB, "Photos", "forget", "--dry-run", "--json", "--tag", "homefleet", "--host", hostname(), "--group-by", "host,tags", "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "12")) as { keep: unknown[]; remove: unknown[] | null }[];
    expect(dryRun.map((g) => ({ keep: g.keep.length, remove: g.remove?.length ?? 0 }))).toEqual([{ keep: expected.size, remove: 0 }]);

    // Each job's own metrics file, under its own job label.
    const prom = (job: string) => readFileSync(join(metrics, `homefleet_backup_${job}.prom`), "utf8");
    expect(prom("repository-Docs")).toMatch(/^homefleet_backup_last_status\{job="repository-Docs",kind="restic"\} 1$/m);
    expect(prom("repository-Photos")).toMatch(/^homefleet_backup_last_success_timestamp_seconds\{job="repository-Photos",kind="restic"\} \d+$/m);
    expect(prom("check-repository-Docs")).toMatch(/^homefleet_backup_last_status\{job="check-repository-Docs",kind="restic-check"\} 1$/m);
  });

  it("a failed run writes status 0 and keeps the last success", () => {
    const repo = join(dir, "repo-c");
    const data = join(dir, "data-c");
    mkdirSync(data);
    writeFileSync(join(data, "f"), "x\n");
    const render = renderBox({ repositories: { C: { repository: repo, passwordConfig: "cPassword", paths: [data] } } }, ["cPassword"]);
    const host = render.bundles[0];
    const script = join(dir, "homefleet-backup-repository-c");
    writeFileSync(script, host.files.find((f) => f.path === "/usr/local/lib/homefleet/homefleet-backup-repository")!.content, { mode: 0o755 });
    const args = host.host.operations.services.find((s) => s.name === "homefleet-backup-repository-C")!.execStart[0].args;
    const creds = join(dir, "credentials-c");
    mkdirSync(creds);
    const metrics = join(dir, "metrics-c");
    mkdirSync(metrics);
    const run = (password: string) => {
      writeFileSync(join(creds, "restic-password"), password);
      return spawnSync(script, args, { env: { ...process.env, CREDENTIALS_DIRECTORY: creds, HOMEFLEET_TEXTFILE_DIR: metrics, RESTIC_CACHE_DIR: join(dir, "cache") }, encoding: "utf8" });
    };
    expect(run("right-password").status).toBe(0);
    const success = readFileSync(join(metrics, "homefleet_backup_repository-C.prom"), "utf8").match(/last_success_timestamp_seconds\{[^}]*\} (\d+)/)![1];
    const failed = run("wrong-password");
    expect(failed.status).not.toBe(0);
    const prom = readFileSync(join(metrics, "homefleet_backup_repository-C.prom"), "utf8");
    expect(prom).toMatch(/^homefleet_backup_last_status\{job="repository-C",kind="restic"\} 0$/m);
    expect(prom).toContain(`homefleet_backup_last_success_timestamp_seconds{job="repository-C",kind="restic"} ${success}\n`);
    expect(prom + failed.stdout + failed.stderr).not.toContain("right-password");
  });
});
