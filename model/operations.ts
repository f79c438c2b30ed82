/**
 * What keeps a host's stacks alive, by default: nightly backups with retention and metrics,
 * certificate renewal and validation, exporters. Seeds 000, 001 and 004 spend most of their
 * words on these; here every host gets them without asking.
 */
import { localRepositoryPath, pathWithin } from "../config/reserved";
import type { CertificateConfig, HostConfig, JobConfig, RepositoryConfig } from "../config/schema";
import { hardening } from "./hardening";
import { CONFIG_ROOT, NIXOS_MODULE_DIR, SECRETS_ROOT, secretPaths, units, serviceName } from "./paths";
import { clockTime, DaySchedule, dayWindow, minutesOf, RENEWAL_STAGGER_MINUTES } from "./schedule";
import { compareText } from "./textOrder";
import { EXPORTER_CATALOG } from "./exporterCatalog";
import type { BackupJobSpec, CertificateSpec, DirectorySpec, ExecSpec, ExporterSpec, HostOperations, HostOs, ProgramRef, ServiceUnitSpec, StackModel, TimerSpec } from "./specs";

/** The node exporter's textfile collector directory (Debian's default; set explicitly on NixOS). */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";
/** Group allowed to write metrics into TEXTFILE_DIR (backup jobs run as postgres or redis). */
export const METRICS_GROUP = "homefleet-metrics";
export const CERT_ROOT = "/var/lib/homefleet/certs";
/** Where a certificate's renewal writes NAME.crt (full chain) and NAME.key. */
export function certificatePaths(name: string): { dir: string; cert: string; key: string } {
  const dir = `${CERT_ROOT}/${name}`;
  return { dir, cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
}
export const ACME_STATE_ROOT = "/var/lib/homefleet/acme";

export const EXPORTER_PORTS = { node: 9100, blackbox: 9115, postgres: 9187, redisBase: 9121 } as const;




const daily = (hhmm: string) => `*-*-* ${hhmm}:00`;

function redisUser(os: HostOs, stack: string): string {
  // nixpkgs runs each named server as its own user; Debian's package has one `redis` user.
  return os === "nixos" ? `redis-${stack}` : "redis";
}

/** The job (service and timer) archiving a stack's volumes; the coverage table names it too. */
export const volumesBackupJob = (stack: string) => `homefleet-backup-volumes-${stack}`;

/**
 * A backup job's own directory DEST and its metrics: the job creates DEST (from the host's
 * tmpfiles rules, as root) before it runs, because a pool mounted after the deployment
 * (RequiresMountsFor= mounts it for the job) hides the directories tmpfiles made on the root
 * filesystem, and every run would fail. `-DEST` in ReadWritePaths= lets the sandbox be set up
 * while DEST is still missing.
 */
function jobDirectory(dest: string): Pick<ServiceUnitSpec, "execStartPre" | "readWritePaths"> {
  return { execStartPre: [createDirectory(dest)], readWritePaths: [`-${dest}`, TEXTFILE_DIR] };
}

/** Creates DEST from the host's tmpfiles rules, as root, before the job's sandbox needs it (see jobDirectory). */
function createDirectory(dest: string): ExecSpec {
  return {
    program: { debian: "/usr/bin/systemd-tmpfiles", nix: { pkg: "systemd", bin: "systemd-tmpfiles" } },
    args: ["--create", `--prefix=${dest}`],
    privileged: true,
  };
}

/** A timer whose time no config key sets: homefleet places it in the first free window at or after `earliest` (minutes after midnight). */
type UnplacedTimer = Omit<TimerSpec, "onCalendar"> & { readonly earliest: number };

/** A backup job before its timer is placed. */
type UnscheduledBackup = Omit<BackupJobSpec, "onCalendar" | "check">;

function backupUnits(hostName: string, host: HostConfig, os: HostOs, stacks: readonly StackModel[], pgVersion: number | undefined): { services: ServiceUnitSpec[]; timers: TimerSpec[]; unplaced: UnplacedTimer[]; dirs: DirectorySpec[]; jobs: UnscheduledBackup[] } {
  const b = host.backup;
  // Where the review points for each timer: the setting that places it.
  const schedulePath = `homefleet:hosts.${hostName}.backup.schedule`;
  const offsitePath = `homefleet:hosts.${hostName}.backup.offsite`;
  const backupJobs: UnscheduledBackup[] = [];
  const kept = `${b.retentionDays} days`;
  const services: ServiceUnitSpec[] = [];
  const timers: TimerSpec[] = [];
  const unplaced: UnplacedTimer[] = [];
  const dirs: DirectorySpec[] = [{ path: b.dir, mode: "0711", user: "root", group: "root" }];
  const retention = String(b.retentionDays);
  const metricsAccess = { SupplementaryGroups: METRICS_GROUP, Nice: 10, IOSchedulingClass: "idle" };
  const databases = stacks.flatMap((s) => (s.database ? [s.database] : []));
  const dumpUnits: string[] = [];

  if (databases.length && pgVersion !== undefined) {
    const dest = `${b.dir}/postgresql`;
    dirs.push({ path: dest, mode: "0700", user: "postgres", group: "postgres" });
    const server = units.postgres(os, pgVersion);
    services.push({
      name: "homefleet-backup-postgresql",
      description: `homefleet: pg_dump of every database on ${hostName}`,
      why: ["A daily pg_dump with retention, not WAL archiving that depends on tools by bare name.", "nixpkgs' services.postgresqlBackup writes no metrics and keeps no retention: homefleet's own unit on both flavours."],
      type: "oneshot",
      user: "postgres",
      group: "postgres",
      ...jobDirectory(dest),
      execStart: databases.map((db) => ({ program: { script: "homefleet-backup-postgresql" }, args: [db.name, String(host.postgresql.port), dest, retention, `postgresql-${db.name}`] })),
      after: [server],
      requires: [server],
      requiresMountsFor: [b.dir],
      service: metricsAccess,
      hardening: hardening.postgresClient,
    });
    timers.push({ name: "homefleet-backup-postgresql", description: "homefleet: nightly PostgreSQL dumps", onCalendar: daily(b.schedule.postgresql), persistent: true, randomizedDelaySec: b.randomizedDelaySec, configPath: schedulePath });
    backupJobs.push({ job: "homefleet-backup-postgresql", kind: "postgresql", saves: databases.map((db) => db.name), destination: dest, retention: kept });
    dumpUnits.push("homefleet-backup-postgresql.service");
  }

  stacks
    .filter((s) => s.cache)
    .forEach((s, i) => {
      const cache = s.cache!;
      const user = redisUser(os, s.name);
      const dest = `${b.dir}/redis-${s.name}`;
      dirs.push({ path: dest, mode: "0700", user, group: user });
      const name = `homefleet-backup-redis-${s.name}`;
      services.push({
        name,
        stack: s.name,
        description: `homefleet: Redis snapshot of stack ${s.name}`,
        why: ["`redis-cli SAVE`, then a timestamped copy of dump.rdb; `redis-cli --rdb` is a replication tool, not a backup."],
        type: "oneshot",
        user,
        group: user,
        ...jobDirectory(dest),
        execStart: [{ program: { script: "homefleet-backup-redis" }, args: [String(cache.port), `/var/lib/redis-${s.name}`, dest, retention, `redis-${s.name}`] }],
        credentials: [{ name: "redis-password", path: cache.passwordFile }],
        after: [units.cache(s.name)],
        requires: [units.cache(s.name)],
        requiresMountsFor: [b.dir],
        service: metricsAccess,
        hardening: hardening.loopbackClient,
      });
      // The first cache at backup.schedule.redis; each further one in the first free window after it.
      const timer = { name, description: `homefleet: nightly Redis snapshot of ${s.name}`, persistent: true, randomizedDelaySec: Math.min(b.randomizedDelaySec, 240), configPath: schedulePath };
      backupJobs.push({ job: name, kind: "redis", stack: s.name, saves: [`/var/lib/redis-${s.name}`], destination: dest, retention: kept });
      if (i === 0) timers.push({ ...timer, onCalendar: daily(b.schedule.redis) });
      else unplaced.push({ ...timer, earliest: minutesOf(b.schedule.redis) });
      dumpUnits.push(`${name}.service`);
    });

  const configDest = `${b.dir}/config`;
  const configPaths = [CONFIG_ROOT, SECRETS_ROOT, ...(os === "nixos" ? [NIXOS_MODULE_DIR] : [])];
  backupJobs.push({ job: "homefleet-backup-config", kind: "config", saves: configPaths, destination: configDest, retention: kept });
  dirs.push({ path: configDest, mode: "0700", user: "root", group: "root" });
  services.push({
    name: "homefleet-backup-config",
    description: `homefleet: archive of ${hostName}'s homefleet config and secrets`,
    why: ["Config and secrets archived nightly, root-only."],
    type: "oneshot",
    ...jobDirectory(configDest),
    execStart: [{ program: { script: "homefleet-backup-config" }, args: [configDest, retention, "config", "config", ...configPaths] }],
    requiresMountsFor: [b.dir],
    service: { Nice: 10, IOSchedulingClass: "idle" },
    hardening: hardening.localOnly,
  });
  timers.push({ name: "homefleet-backup-config", description: "homefleet: nightly config archive", onCalendar: daily(b.schedule.config), persistent: true, randomizedDelaySec: b.randomizedDelaySec, configPath: schedulePath });
  dumpUnits.push("homefleet-backup-config.service");

  // A container's writable volumes are its state: archived nightly unless declared ephemeral.
  for (const s of stacks) {
    // A native service's data directories are its state, as a container's volumes are; a volume
    // carried by a restic repository (volumes[].repository) is that repository's to back up.
    const sources = s.native ? [...s.native.dataDirs] : [...new Set(s.container!.volumes.filter((v) => !v.readOnly && !v.ephemeral && !v.repository).map((v) => v.source))].sort();
    if (!sources.length) continue;
    const name = volumesBackupJob(s.name);
    const dest = `${b.dir}/volumes-${s.name}`;
    backupJobs.push({ job: name, kind: "volumes", stack: s.name, saves: sources, destination: dest, retention: kept });
    dirs.push({ path: dest, mode: "0700", user: "root", group: "root" });
    services.push({
      name,
      stack: s.name,
      description: `homefleet: archive of stack ${s.name}'s ${s.native ? "data directories" : "volumes"}`,
      why: [s.native ? `The data directories of ${s.native.title} hold its state: archived nightly, root-only, like the dumps.` : "A container's writable volumes hold its state: archived nightly, root-only, like the dumps."],
      type: "oneshot",
      ...jobDirectory(dest),
      execStart: [{ program: { script: "homefleet-backup-config" }, args: [dest, retention, `volumes-${s.name}`, "volumes", ...sources] }],
      requiresMountsFor: [b.dir, ...sources],
      service: { Nice: 10, IOSchedulingClass: "idle" },
      hardening: s.native ? hardening.nativeArchive : hardening.localOnly,
    });
    unplaced.push({ name, description: `homefleet: nightly archive of ${s.name}'s volumes`, persistent: true, randomizedDelaySec: b.randomizedDelaySec, configPath: schedulePath, earliest: minutesOf(b.schedule.config) });
    dumpUnits.push(`${name}.service`);
  }

  const offsite = b.offsite;
  if (offsite) {
    const credentials = [{ name: "restic-password", path: secretPaths.resticPassword() }];
    const environmentFiles = offsite.environmentConfig ? [secretPaths.resticEnv()] : [];
    const cacheDir = "/var/cache/homefleet-restic";
    const keep = [offsite.keepDaily, offsite.keepWeekly, offsite.keepMonthly, offsite.keepYearly].map(String);
    services.push({
      name: "homefleet-backup-offsite",
      description: `homefleet: off-site restic backup of ${hostName}`,
      why: [
        "Ordered after the night's dumps: a dump still running holds this job back (After= orders queued jobs).",
        "nixpkgs' services.restic.backups writes no metrics and cannot be ordered after these dumps by name: homefleet's own unit on both flavours.",
      ],
      type: "oneshot",
      execStart: [
        {
          program: { script: "homefleet-backup-restic" },
          args: ["backup", offsite.repository, ...keep, "offsite", b.dir, ...offsite.paths],
        },
      ],
      credentials,
      environmentFiles,
      environment: { RESTIC_CACHE_DIR: cacheDir },
      after: [...dumpUnits, "network-online.target"],
      wants: ["network-online.target"],
      // It uploads the backup directory (and the extra paths): an absent pool would make an empty snapshot.
      requiresMountsFor: [b.dir, ...offsite.paths],
      readWritePaths: [cacheDir, TEXTFILE_DIR],
      service: { Nice: 10, IOSchedulingClass: "idle", CacheDirectory: "homefleet-restic" },
      // ProtectHome=yes would hide a home directory it is asked to back up: read-only instead.
      hardening: offsite.paths.some((p) => /^\/(home|root)(\/|$)/.test(p)) ? { ...hardening.networkBackup, ProtectHome: "read-only" } : hardening.networkBackup,
    });
    timers.push({ name: "homefleet-backup-offsite", description: "homefleet: nightly off-site backup", onCalendar: daily(offsite.schedule), persistent: true, randomizedDelaySec: b.randomizedDelaySec, configPath: offsitePath });
    backupJobs.push({ job: "homefleet-backup-offsite", kind: "offsite", saves: [b.dir, ...offsite.paths], destination: offsite.repository, retention: `${offsite.keepDaily} daily, ${offsite.keepWeekly} weekly, ${offsite.keepMonthly} monthly, ${offsite.keepYearly} yearly snapshots`, carriesLocalBackups: true });
    services.push({
      name: "homefleet-backup-offsite-check",
      description: `homefleet: restic check of ${hostName}'s off-site repository`,
      why: ["A repository nobody checks is a repository nobody can restore from."],
      type: "oneshot",
      execStart: [{ program: { script: "homefleet-backup-restic" }, args: ["check", offsite.repository, ...keep, "offsite-check", b.dir] }],
      credentials,
      environmentFiles,
      environment: { RESTIC_CACHE_DIR: cacheDir },
      after: ["homefleet-backup-offsite.service", "network-online.target"],
      wants: ["network-online.target"],
      readWritePaths: [cacheDir, TEXTFILE_DIR],
      service: { Nice: 10, IOSchedulingClass: "idle", CacheDirectory: "homefleet-restic" },
      hardening: hardening.networkBackup,
    });
    timers.push({ name: "homefleet-backup-offsite-check", description: "homefleet: weekly restic check", onCalendar: offsite.checkCalendar, persistent: true, randomizedDelaySec: b.randomizedDelaySec, configPath: offsitePath });
  }
  const repositories = Object.keys(b.repositories ?? {})
    .sort(compareText)
    .map((name) => repositoryUnits(hostName, name, b.repositories![name], b.dir, dumpUnits, b.randomizedDelaySec));
  for (const r of repositories) {
    services.push(...r.services);
    timers.push(...r.timers);
    if (r.unplaced) unplaced.push(r.unplaced);
    dirs.push(...r.dirs);
    backupJobs.push(r.job);
  }
  return { services, timers, unplaced, dirs, jobs: backupJobs };
}

/** Where a repository is set, for the review's findings: `homefleet:hosts.<host>.backup.repositories.<name>`. */
export const repositoryConfigPath = (host: string, name: string) => `homefleet:hosts.${host}.backup.repositories.${name}`;

/** The off-site copy's preset, and no mounts of its own: restic reads files and talks to its repository, it never mounts. */
const repositoryHardening = { ...hardening.networkBackup, PrivateMounts: "yes" };

/** Earliest start of a repository whose time no config key sets: after the night's local backups, whose windows are placed first. */
const REPOSITORY_EARLIEST = "03:30";

/**
 * One restic repository of the host: a oneshot backup with its timer, and a check with its own
 * timer when the repository has a checkCalendar. Each path is a mount requirement, so a pool that
 * is not imported fails the job instead of producing an empty snapshot that retention then keeps
 * in place of the good ones. A repository whose paths hold backup.dir carries the night's dumps:
 * it is ordered after them, like the off-site copy.
 */
function repositoryUnits(hostName: string, name: string, repo: RepositoryConfig, backupDir: string, dumpUnits: readonly string[], randomizedDelaySec: number): { services: ServiceUnitSpec[]; timers: TimerSpec[]; dirs: DirectorySpec[]; unplaced?: UnplacedTimer; job: UnscheduledBackup } {
  const job = serviceName(units.backupRepository(name));
  const checkJob = serviceName(units.checkRepository(name));
  const configPath = repositoryConfigPath(hostName, name);
  const carries = repo.paths.some((p) => pathWithin(backupDir, p) || pathWithin(p, backupDir));
  const local = localRepositoryPath(repo.repository);
  const cacheDir = "/var/cache/homefleet-restic";
  const credentials = [{ name: "restic-password", path: secretPaths.repositoryPassword(name) }];
  const environmentFiles = repo.environmentConfig ? [secretPaths.repositoryEnv(name)] : [];
  const keep = [repo.keepDaily, repo.keepWeekly, repo.keepMonthly, repo.keepYearly].map(String);
  const homePaths = repo.paths.filter((p) => HOME_TREES.some((h) => pathWithin(p, h)));
  const common = {
    type: "oneshot" as const,
    // A repository on a disk of this host is written, and must be mounted too: homefleet creates
    // its directory before each run (a pool mounted after the deployment hides the one made then).
    ...(local ? { execStartPre: [createDirectory(local)] } : {}),
    credentials,
    environmentFiles,
    environment: { RESTIC_CACHE_DIR: cacheDir },
    wants: ["network-online.target"],
    readWritePaths: [cacheDir, TEXTFILE_DIR, ...(local ? [`-${local}`] : [])],
    service: { Nice: 10, IOSchedulingClass: "idle", CacheDirectory: "homefleet-restic" },
  };
  const services: ServiceUnitSpec[] = [
    {
      name: job,
      description: `homefleet: restic backup of ${hostName} to repository ${name}`,
      why: [
        `Repository ${name}, set in ${configPath}: its paths, exclude patterns and retention, with metrics like every homefleet backup job.`,
        ...(carries ? ["Its paths hold backup.dir: ordered after the night's dumps (After= orders queued jobs)."] : []),
      ],
      ...common,
      execStart: [{ program: { script: "homefleet-backup-repository" }, args: ["backup", `repository-${name}`, repo.repository, ...keep, ...repo.exclude.map((e) => `--exclude=${e}`), "--", ...repo.paths] }],
      after: [...(carries ? dumpUnits : []), "network-online.target"],
      requiresMountsFor: [...new Set([...repo.paths, ...repo.mounts, ...(local ? [local] : [])])],
      // ProtectHome=yes would hide a home directory it is asked to back up: empty home trees with
      // only those paths bound in, read-only ("-": a missing one fails in restic, with metrics).
      hardening: homePaths.length ? { ...repositoryHardening, ProtectHome: "tmpfs", BindReadOnlyPaths: homePaths.map((p) => `-${p}`) } : repositoryHardening,
    },
  ];
  const timer = { name: job, description: `homefleet: backup to restic repository ${name}`, persistent: true, randomizedDelaySec, configPath };
  const timers: TimerSpec[] = repo.schedule ? [{ ...timer, onCalendar: daily(repo.schedule) }] : [];
  const retention = `${repo.keepDaily} daily, ${repo.keepWeekly} weekly, ${repo.keepMonthly} monthly, ${repo.keepYearly} yearly snapshots`;
  const spec: UnscheduledBackup = { job, kind: "repository", repository: name, saves: [...repo.paths], destination: repo.repository, retention, ...(carries ? { carriesLocalBackups: true } : {}) };
  if (repo.checkCalendar) {
    services.push({
      name: checkJob,
      description: `homefleet: restic check of ${hostName}'s repository ${name}`,
      why: ["A repository nobody checks is a repository nobody can restore from."],
      ...common,
      execStart: [{ program: { script: "homefleet-backup-repository" }, args: ["check", `check-repository-${name}`, repo.repository] }],
      after: [`${job}.service`, "network-online.target"],
      ...(local ? { requiresMountsFor: [local] } : {}),
      hardening: repositoryHardening,
    });
    timers.push({ name: checkJob, description: `homefleet: check of restic repository ${name}`, onCalendar: repo.checkCalendar, persistent: true, randomizedDelaySec, configPath });
  }
  const dirs: DirectorySpec[] = local ? [{ path: local, mode: "0700", user: "root", group: "root" }] : [];
  return { services, timers, dirs, job: spec, ...(repo.schedule ? {} : { unplaced: { ...timer, earliest: minutesOf(REPOSITORY_EARLIEST) } }) };
}

/** Renewals from 04:00, each at least RENEWAL_STAGGER_MINUTES after the one before; the check after the last. */
const RENEWAL_EARLIEST = "04:00";
const CERTIFICATE_CHECK_EARLIEST = "06:15";
const CERTIFICATE_TIMER_DELAY_SEC = 600;

function certificateUnits(hostName: string, certs: Readonly<Record<string, CertificateConfig>>, schedule: DaySchedule, proxied: ReadonlySet<string>): { services: ServiceUnitSpec[]; timers: TimerSpec[]; dirs: DirectorySpec[]; list: CertificateSpec[] } {
  const services: ServiceUnitSpec[] = [];
  const timers: TimerSpec[] = [];
  const dirs: DirectorySpec[] = [];
  const list: Omit<CertificateSpec, "check">[] = [];
  const certificatesPath = `homefleet:hosts.${hostName}.certificates`;
  let earliest = minutesOf(RENEWAL_EARLIEST);
  let lastWindowEnd = 0;
  for (const name of Object.keys(certs).sort()) {
    const c = certs[name];
    const { dir: certDir, cert: certFile } = certificatePaths(name);
    // With a group, the directory is setgid: the files the renewal writes take its group
    // without a chown, and the key is readable by the service of that group.
    dirs.push(c.group ? { path: certDir, mode: "2750", user: "root", group: c.group } : { path: certDir, mode: "0750", user: "root", group: "root" });
    // A certificate the proxy serves reloads nginx (config makes sure no other unit is named).
    const reload = c.reloadUnit ?? (proxied.has(name) ? units.nginx() : "-");
    const order = acmeOrder(c);
    services.push({
      name: `homefleet-cert-${name}`,
      description: `homefleet: ${c.issuer} certificate ${name} (${c.domains.join(", ")})`,
      why: ["Renews before expiry and reloads, never restarts, the consuming service."],
      type: "oneshot",
      execStart: [{ program: { script: "homefleet-cert-acme" }, args: [name, c.domains.join(","), order.server, order.email, certDir, reload, String(c.renewBeforeDays), ...(order.caBundle ? [order.caBundle] : [])] }],
      environment: { HOMEFLEET_ACME_STATE_DIR: ACME_STATE_ROOT, HOMEFLEET_ACME_HTTP_LISTEN: `:${order.httpPort}` },
      after: ["network-online.target"],
      wants: ["network-online.target"],
      readWritePaths: [certDir, `${ACME_STATE_ROOT}/${name}`, TEXTFILE_DIR],
      hardening: hardening.certificateRenewal,
    });
    dirs.push({ path: `${ACME_STATE_ROOT}/${name}`, mode: "0700", user: "root", group: "root" });
    const window = schedule.place(earliest, CERTIFICATE_TIMER_DELAY_SEC);
    earliest = window.start + RENEWAL_STAGGER_MINUTES;
    lastWindowEnd = Math.max(lastWindowEnd, window.end);
    const renewal = { name: `homefleet-cert-${name}`, onCalendar: daily(clockTime(window.start)) };
    timers.push({ ...renewal, description: `homefleet: renewal of certificate ${name}`, persistent: true, randomizedDelaySec: CERTIFICATE_TIMER_DELAY_SEC, configPath: certificatesPath });
    list.push({ name, issuer: c.issuer, domains: [...c.domains], certFile, renewal: { job: renewal.name, onCalendar: renewal.onCalendar }, ...(reload !== "-" ? { reloadUnit: reload } : {}) });
  }
  if (list.length) {
    services.push({
      name: "homefleet-cert-check",
      description: `homefleet: daily validation of ${hostName}'s certificates`,
      why: ["Expiry as a metric, checked daily, independent of whether renewal ran."],
      type: "oneshot",
      execStart: list.map((c) => ({ program: { script: "homefleet-cert-check" }, args: [c.name, c.certFile, c.issuer] })),
      readWritePaths: [TEXTFILE_DIR],
      hardening: hardening.localOnly,
    });
    const { start } = schedule.place(Math.max(minutesOf(CERTIFICATE_CHECK_EARLIEST), lastWindowEnd), CERTIFICATE_TIMER_DELAY_SEC);
    const check = { job: "homefleet-cert-check", onCalendar: daily(clockTime(start)) };
    timers.push({ name: check.job, description: "homefleet: daily certificate validation", onCalendar: check.onCalendar, persistent: true, randomizedDelaySec: CERTIFICATE_TIMER_DELAY_SEC, configPath: certificatesPath });
    return { services, timers, dirs, list: list.map((c) => ({ ...c, check })) };
  }
  return { services, timers, dirs, list: [] };
}

/** Where a certificate is ordered: both issuers speak ACME, step-ca through its ACME provisioner. */
export function acmeOrder(c: CertificateConfig): { server: string; email: string; httpPort: number; caBundle?: string } {
  if (c.issuer === "acme") return { server: c.acme!.server, email: c.acme!.email, httpPort: c.acme!.httpPort };
  const ca = c.stepCa!;
  return {
    // step-ca serves each ACME provisioner's directory at /acme/<provisioner>/directory.
    server: `${ca.url.replace(/\/+$/, "")}/acme/${ca.provisioner}/directory`,
    email: ca.email ?? `hostmaster@${c.domains[0]}`,
    httpPort: ca.httpPort,
    caBundle: ca.rootCert,
  };
}

export function isLoopback(address: string): boolean {
  return address.startsWith("127.");
}

function redisExporterUnit(stack: StackModel, address: string, port: number): ServiceUnitSpec {
  const cache = stack.cache!;
  return {
    name: serviceName(units.redisExporter(stack.name)),
    stack: stack.name,
    description: `homefleet: Prometheus exporter for the Redis of stack ${stack.name}`,
    why: ["One exporter per Redis instance; the password arrives in a root-only environment file."],
    type: "simple",
    execStart: [
      {
        program: { debian: "/usr/bin/prometheus-redis-exporter", nix: { pkg: "prometheus-redis-exporter", bin: "redis_exporter" } },
        args: [`--web.listen-address=${address}:${port}`, `--redis.addr=redis://127.0.0.1:${cache.port}`],
      },
    ],
    environmentFiles: [secretPaths.redisExporterEnv(stack.name)],
    // On a LAN address it can only bind once the network is configured.
    after: [units.cache(stack.name), ...(isLoopback(address) ? [] : ["network-online.target"])],
    ...(isLoopback(address) ? {} : { wants: ["network-online.target"] }),
    wantedBy: ["multi-user.target"],
    service: { Restart: "on-failure", RestartSec: "10s", DynamicUser: "yes" },
    hardening: hardening.exporter,
  };
}

/** The backups written on the host itself each night, which the off-site copy and a repository holding backup.dir carry. */
export const LOCAL_BACKUP_KINDS: ReadonlySet<BackupJobSpec["kind"]> = new Set(["postgresql", "redis", "config", "volumes"]);

/** `homefleet:hosts.<host>.jobs.<name>`: where a scheduled job is set, for the review's findings. */
export const jobConfigPath = (host: string, job: string) => `homefleet:hosts.${host}.jobs.${job}`;

/** Home directories: a job that writes below one needs ProtectHome=read-only instead of yes. */
const HOME_TREES = ["/home", "/root", "/run/user"];

/**
 * A scheduled job: a oneshot service and its timer, both named after the job. Hardened like
 * homefleet's own units: no network unless asked (`localOnly`), writes only to its writePaths,
 * no capabilities unless listed; its writePaths are mount requirements too, so a job never
 * writes onto the root disk under an absent pool.
 */
function jobUnits(hostName: string, name: string, job: JobConfig): { service: ServiceUnitSpec; timer: TimerSpec } {
  // As the config gives it; config checks (config/load.ts jobChecks) require the host's own flavour.
  const program: ProgramRef = { ...(job.program.debian ? { debian: job.program.debian } : {}), ...(job.program.nix ? { nix: { ...job.program.nix } } : {}) };
  const mounts = [...new Set([...job.mounts, ...job.writePaths])].sort();
  const writesHome = job.writePaths.some((p) => HOME_TREES.some((h) => p === h || p.startsWith(`${h}/`)));
  const caps = [...new Set(job.capabilities)].sort().join(" ");
  const hardeningOf = {
    ...(job.network ? hardening.networkJob : hardening.localOnly),
    // ProtectHome=yes hides home directories entirely; read-only lets ReadWritePaths= open the job's own.
    ...(writesHome ? { ProtectHome: "read-only" } : {}),
    // PrivateDevices=yes would hide every device node: the listed ones are opened, nothing else.
    ...(job.devices.length ? { PrivateDevices: "no", DevicePolicy: "closed", DeviceAllow: [...new Set(job.devices)].sort().map((d) => `${d} rw`) } : {}),
    ...(caps ? { CapabilityBoundingSet: caps, ...(job.user && job.user !== "root" ? { AmbientCapabilities: caps } : {}) } : {}),
  };
  const after = [...new Set([...job.after, ...job.requires, ...(job.network ? ["network-online.target"] : [])])];
  const service: ServiceUnitSpec = {
    name,
    description: job.description ?? `homefleet job ${name}`,
    why: [`Scheduled job ${name}, set in ${jobConfigPath(hostName, name)}.`, "Each run ends by writing the job's last run, status and last success as metrics (homefleet_job_*)."],
    type: "oneshot",
    ...(job.user ? { user: job.user } : {}),
    ...(job.group ? { group: job.group } : {}),
    execStart: [{ program, args: [...job.args] }],
    // As root outside the sandbox (the job may not write the metrics directory), after every run.
    execStopPost: [{ program: { script: "homefleet-job-metrics" }, args: [name], privileged: true }],
    ...(Object.keys(job.environment).length ? { environment: { ...job.environment } } : {}),
    // Read by systemd as root before the job's user takes over; the values never reach the unit.
    ...(Object.keys(job.secretEnvironment).length ? { environmentFiles: [secretPaths.jobEnv(name)] } : {}),
    ...(after.length ? { after } : {}),
    ...(job.requires.length ? { requires: [...job.requires] } : {}),
    ...(job.network ? { wants: ["network-online.target"] } : {}),
    ...(mounts.length ? { requiresMountsFor: mounts } : {}),
    ...(job.writePaths.length ? { readWritePaths: [...job.writePaths] } : {}),
    service: { TimeoutStartSec: `${job.timeoutSec}s` },
    hardening: hardeningOf,
  };
  const timer: TimerSpec = {
    name,
    description: `homefleet: schedule of job ${name}`,
    onCalendar: job.calendar,
    persistent: job.persistent,
    randomizedDelaySec: job.randomizedDelaySec,
    configPath: jobConfigPath(hostName, name),
  };
  return { service, timer };
}

export function buildHostOperations(hostName: string, host: HostConfig, os: HostOs, stacks: readonly StackModel[], pgVersion: number | undefined): HostOperations {
  const backups = backupUnits(hostName, host, os, stacks, pgVersion);
  const jobs = Object.keys(host.jobs)
    .sort()
    .map((name) => jobUnits(hostName, name, host.jobs[name]));
  // The times config sets first (backups and jobs); then what homefleet places itself, in the windows left free.
  const schedule = new DaySchedule([...backups.timers, ...jobs.map((j) => j.timer)]);
  // Repositories without a time of their own go after the last window of the night's local backups.
  const isRepository = (t: UnplacedTimer) => backups.jobs.some((j) => j.job === t.name && j.kind === "repository");
  const place = ({ earliest, ...t }: UnplacedTimer, after = 0) => ({ ...t, onCalendar: daily(clockTime(schedule.place(Math.max(earliest, after), t.randomizedDelaySec).start)) });
  const placedLocal = backups.unplaced.filter((t) => !isRepository(t)).map((t) => place(t));
  const localJobs = new Set(backups.jobs.filter((j) => LOCAL_BACKUP_KINDS.has(j.kind)).map((j) => j.job));
  const lastLocalEnd = Math.max(0, ...[...backups.timers, ...placedLocal].filter((t) => localJobs.has(t.name)).map((t) => dayWindow(t.onCalendar, t.randomizedDelaySec)?.end ?? 0));
  const placedBackups = [...placedLocal, ...backups.unplaced.filter(isRepository).map((t) => place(t, lastLocalEnd))];
  const proxied = new Set(Object.values(host.proxy?.vhosts ?? {}).map((v) => v.certificate));
  const certs = certificateUnits(hostName, host.certificates, schedule, proxied);
  const address = host.monitoring.listenAddress;
  const exporters: ExporterSpec[] = [{ kind: "node", address, port: EXPORTER_PORTS.node }];
  if (pgVersion !== undefined && stacks.some((s) => s.database)) exporters.push({ kind: "postgres", address, port: EXPORTER_PORTS.postgres });
  const redisExporters: ServiceUnitSpec[] = [];
  stacks
    .filter((s) => s.cache)
    .forEach((s, i) => {
      const port = EXPORTER_PORTS.redisBase + i;
      exporters.push({ kind: "redis", address, port, stack: s.name });
      redisExporters.push(redisExporterUnit(s, address, port));
    });
  // Every HTTP health endpoint: each container's, and each native service's that serves one.
  const probes = stacks.flatMap((s) => {
    const url = s.container ? s.container.health.url : s.native?.health?.url;
    return url ? [{ stack: s.name, kind: s.kind, url }] : [];
  });
  const timers = [...backups.timers, ...placedBackups, ...certs.timers, ...jobs.map((j) => j.timer)];
  const calendarOf = (job: string) => timers.find((t) => t.name === job)!.onCalendar;
  const repositoryCheck = (name: string) => {
    const check = timers.find((t) => t.name === serviceName(units.checkRepository(name)));
    return check ? { check: { job: check.name, onCalendar: check.onCalendar } } : {};
  };
  if (probes.length) exporters.push({ kind: "blackbox", address, port: EXPORTER_PORTS.blackbox });
  for (const kind of host.exporters ?? []) exporters.push({ kind, address, port: EXPORTER_CATALOG[kind].port });
  return {
    services: [...backups.services, ...certs.services, ...redisExporters, ...jobs.map((j) => j.service)],
    timers,
    directories: [...backups.dirs, ...certs.dirs, { path: TEXTFILE_DIR, mode: "2775", user: "root", group: METRICS_GROUP }],
    exporters,
    probes,
    certificates: certs.list,
    jobs: jobs.map((j) => ({ name: j.timer.name, service: j.service, timer: j.timer })),
    backups: backups.jobs.map((j) => ({
      ...j,
      onCalendar: calendarOf(j.job),
      ...(j.kind === "offsite" ? { check: { job: "homefleet-backup-offsite-check", onCalendar: calendarOf("homefleet-backup-offsite-check") } } : {}),
      ...(j.kind === "repository" ? repositoryCheck(j.repository as string) : {}),
    })),
  };
}
