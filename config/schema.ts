/**
 * Stack configuration (`homefleet:hosts`, `homefleet:stacks`) as zod schemas.
 *
 * Every object is strict: an unknown key is an error, because a typo such as `memroyMax` that
 * passes silently leaves a service without the limit its author asked for. Defaults live here,
 * next to the reason for each; docs/config.md documents the same keys.
 */
import { z } from "zod";
import { calendarProblem } from "./calendar";
import { isSecretReference, NATIVE_SERVICES, SECRET_OPTION_KEY } from "../model/nativeCatalogue";
// zod compiles a parser per object schema with `new Function` on its first parse, which pays off
// only for many parses in one process: homefleet parses a stack file once per run, and compiling
// them (not covered by the CLI's code cache) cost more than it saved: the first parse of the
// staging stack took 18-38 ms with them, 7-8 ms without; 200 hosts were within noise either way.
z.config({ jitless: true });

const port = () => z.int({ error: "expected integer 1-65535" }).min(1, { error: "expected integer 1-65535" }).max(65535, { error: "expected integer 1-65535" });

/** Lowercase names become unit names, directory names and Nix attribute names. */
const resourceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, { error: "expected a name of lowercase letters, digits and '-', starting with a letter, at most 31 characters" });

/** systemd size strings (`MemoryMax=`), e.g. 512M, 3G. */
const byteSize = z.string().regex(/^[1-9][0-9]*[KMGT]$/, { error: "expected a size such as 512M or 3G" });

/** PostgreSQL memory settings use their own unit names. */
const pgSize = z.string().regex(/^[1-9][0-9]*(kB|MB|GB|TB)$/, { error: "expected a PostgreSQL size such as 256MB or 4GB" });

/** An IPv4 address in dotted-quad form. */
export const IPV4_ADDRESS = /^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$/;
const ipv4 = z.string().regex(IPV4_ADDRESS, { error: "expected an IPv4 address" });

const cidr = z.string().regex(/^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\/(1[6-9]|2[0-8])$/, {
  error: "expected an IPv4 subnet with a prefix of /16 to /28, such as 10.89.0.0/24",
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "expected an environment variable name" });

export const PostgresSettingsSchema = z.strictObject({
  shared_buffers: pgSize.optional(),
  effective_cache_size: pgSize.optional(),
  work_mem: pgSize.optional(),
  maintenance_work_mem: pgSize.optional(),
  wal_buffers: pgSize.optional(),
  max_wal_size: pgSize.optional(),
  min_wal_size: pgSize.optional(),
  /** seed 000: 1.1 for SSDs. */
  random_page_cost: z.number().positive().max(100).optional(),
  /** seed 000: 200 for SSDs. */
  effective_io_concurrency: z.int().min(0).max(1000).optional(),
  /** seed 000: 30-50% less WAL I/O on SSDs. */
  wal_compression: z.enum(["on", "off", "pglz", "lz4", "zstd"]).optional(),
  max_connections: z.int().min(10).max(10000).optional(),
  checkpoint_completion_target: z.number().min(0).max(1).optional(),
  log_min_duration_statement: z.int().min(-1).optional(),
  // Deliberately absent: archive_command (seed 000: WAL archiving with bare tool names failed
  // silently; homefleet takes daily dumps instead) and synchronous_commit=off (seed 000 rejected it
  // for its data-loss risk).
});

export const HostPostgresSchema = z.strictObject({
  /** Major version. Default: 15 on Debian bookworm (its packaged version), 16 on NixOS. */
  version: z.int().min(13, { error: "expected PostgreSQL major version 13-17" }).max(17, { error: "expected PostgreSQL major version 13-17" }).optional(),
  port: port().default(5432),
  settings: PostgresSettingsSchema.default({}),
});


/** Time of day `HH:MM` for daily jobs. */
const timeOfDay = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { error: "expected a time of day such as 02:30" });
const absolutePath = z.string().regex(/^\/[A-Za-z0-9._/-]*$/, { error: "expected an absolute path" });
const configKey = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, { error: "expected a Pulumi config key name" });

/**
 * `user:password@` after a scheme, anywhere in a value (`https://u:p@h`, `rest:https://u:p@h`,
 * `--db=postgres://u:p@db/x`): a password written into a URL.
 */
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]*@/i;

/**
 * A URL-valued key may name a user but never carry a password: the value lands in world-readable
 * unit files and on process command lines.
 */
function withoutPassword<T extends z.ZodType<string>>(schema: T, where: string) {
  return schema.refine((value) => !URL_PASSWORD.test(value), {
    error: `holds a password in the URL, which would be written in clear into unit files and onto command lines: ${where}`,
    // The refusal must not print the password it refuses.
    params: { hideValue: true },
  });
}

/**
 * An environment variable or command-line option whose name says it holds a secret: a password,
 * token, secret or key of an API, an access key, a private key, credentials (`OPENAI_API_KEY`,
 * `REDIS_PASSWORD`, `PGPASSWORD`, `--api-key`). `AWS_ACCESS_KEY_ID` (an identifier) and names that
 * end otherwise (`TOKEN_URL`, `SECRET_KEY_FILE`) are not.
 */
const SECRET_NAME = /(?:PASSWORD|PASSWD|(?:^|_)(?:PASS|PWD|SECRET|TOKEN|APIKEY|CREDENTIALS?|(?:API|ACCESS|PRIVATE|SECRET|MASTER|SIGNING|ENCRYPTION|AUTH)_KEY))$/;

/** A value that names where the secret is rather than holding it: nothing, a file, or LiteLLM's `os.environ/<NAME>`. */
function namesItsSource(value: string): boolean {
  return value === "" || value.startsWith("/") || value.startsWith("os.environ/");
}

const PLAINTEXT_SECRET = "is written in clear into unit files, the Nix store and process listings";

/**
 * Non-secret environment: a value under a name that says it is a secret, or a URL with a password
 * in any value, is refused (without repeating it). `secretEnvironment` carries such values, from
 * secret config, into root-only files.
 */
function plainEnvironment<T extends z.ZodType<string>>(value: T) {
  return z.record(envName, value).superRefine((environment, ctx) => {
    for (const [name, text] of Object.entries(environment)) {
      if (typeof text !== "string") continue;
      if (SECRET_NAME.test(name.toUpperCase()) && !namesItsSource(text)) {
        ctx.addIssue({ code: "custom", path: [name], message: `looks like a secret, and a value in environment ${PLAINTEXT_SECRET}: give it in secretEnvironment as config:<key>, set with pulumi config set --secret homefleet:<key> < FILE`, params: { hideValue: true } });
      } else if (URL_PASSWORD.test(text)) {
        ctx.addIssue({ code: "custom", path: [name], message: `holds a password in a URL, which ${PLAINTEXT_SECRET}: give it in secretEnvironment (database.url and cache.url for the stack's own)`, params: { hideValue: true } });
      }
    }
  });
}

/** A command-line option, `--name` or `--name=value` (one dash too). */
const OPTION = /^--?([A-Za-z][A-Za-z0-9-]*)(?:=(.*))?$/s;

/** Whether an OPTION match names an option whose value is a secret (`--api-key` reads as API_KEY). */
function namesSecret(option: RegExpExecArray | null): boolean {
  return option !== null && SECRET_NAME.test(option[1].toUpperCase().replace(/-/g, "_"));
}

/**
 * Command-line arguments: a URL with a password, or the value of an option whose name says it is a
 * secret (`--api-key X`, `--password=X`), is refused (without repeating it). The program should read it
 * from the environment, given in secretEnvironment.
 */
function plainArguments<T extends z.ZodType<string>>(arg: T) {
  return z.array(arg).superRefine((args, ctx) => {
    args.forEach((text, i) => {
      if (typeof text !== "string") return;
      const option = OPTION.exec(text);
      const previous = i > 0 ? OPTION.exec(args[i - 1]) : null;
      // Its value: after `=` in this argument, or this whole argument after a bare option.
      const value = option?.[2] !== undefined ? (namesSecret(option) ? option[2] : undefined) : previous?.[2] === undefined && namesSecret(previous) && !text.startsWith("-") ? text : undefined;
      if (value !== undefined && !namesItsSource(value)) {
        ctx.addIssue({ code: "custom", path: [i], message: `is the value of a secret's option, and an argument ${PLAINTEXT_SECRET}: let the program read it from an environment variable given in secretEnvironment`, params: { hideValue: true } });
      } else if (URL_PASSWORD.test(text)) {
        ctx.addIssue({ code: "custom", path: [i], message: `holds a password in a URL, which ${PLAINTEXT_SECRET}: let the program read it from an environment variable given in secretEnvironment`, params: { hideValue: true } });
      }
    });
  });
}

/** A restic repository, e.g. `sftp:backup@nas:/srv/restic/vulcan` or `s3:https://...`: credentials go in the secret environment. */
const resticRepository = () =>
  withoutPassword(
    z.string().min(1).regex(/^[^\s]+$/, { error: "expected a restic repository without spaces" }),
    "give the credentials in the secret environment instead (environmentConfig)",
  );

export const OffsiteBackupSchema = z.strictObject({
  /** restic repository, e.g. `sftp:backup@nas:/srv/restic/vulcan` or `s3:https://...`. */
  repository: resticRepository(),
  /** Secret config key holding the repository password (`pulumi config set --secret`). */
  passwordConfig: configKey,
  /** Secret config key holding extra environment for the repository (e.g. AWS_ACCESS_KEY_ID=...), optional. */
  environmentConfig: configKey.optional(),
  /** Starts after the last dump of the night (default 03:30; the dumps are ordered before it). */
  schedule: timeOfDay.default("03:30"),
  keepDaily: z.int().min(1).default(7),
  keepWeekly: z.int().min(0).default(5),
  /** Monthly snapshots kept (0: none; a year of monthly copies is 12). */
  keepMonthly: z.int().min(0).default(0),
  keepYearly: z.int().min(0).default(3),
  /** Paths backed up off-site besides backup.dir (data a stack keeps outside homefleet's dumps); each must be mounted first. */
  paths: z.array(absolutePath).default([]),
  /** Weekly `restic check`, as a systemd calendar expression. */
  checkCalendar: z
    .string()
    .superRefine((value, ctx) => {
      const problem = calendarProblem(value);
      // The message quotes the value already.
      if (problem) ctx.addIssue({ code: "custom", message: problem, params: { hideValue: true } });
    })
    .default("Sun *-*-* 05:00:00"),
});

/** A repository's name: its units are homefleet-backup-repository-<name> (and homefleet-check-repository-<name>). */
export const repositoryName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,47}$/, { error: "expected a repository name of letters, digits, '-' and '_', starting with a letter, at most 48 characters" });

/**
 * One of the host's restic repositories (`backup.repositories.<name>`): its own paths, exclude
 * patterns, schedule, retention and check, as its own unit and timer. A repository whose paths
 * hold backup.dir carries the night's dumps and is ordered after them, like the off-site copy.
 */
export const RepositorySchema = z.strictObject({
  /** restic repository, e.g. `s3:s3.us-west-001.backblazeb2.com/bucket` or a local path on another disk. */
  repository: resticRepository(),
  /** Secret config key holding the repository password (`pulumi config set --secret`). */
  passwordConfig: configKey,
  /** Secret config key holding extra environment for the repository (e.g. AWS_ACCESS_KEY_ID=...), optional. */
  environmentConfig: configKey.optional(),
  /** What it backs up: absolute paths, each mounted first (RequiresMountsFor=). */
  paths: z.array(absolutePath).min(1, { error: "expected at least one path" }),
  /** restic exclude patterns (`--exclude`), e.g. `*.tmp` or `/tank/Home/johnw/.cache`. */
  exclude: z.array(z.string().min(1).max(4096).refine((e) => !e.endsWith("\\"), { error: "expected a pattern that does not end with \\" })).default([]),
  /**
   * Further paths whose filesystems must be mounted first (RequiresMountsFor=): a dataset mounted
   * below one of the paths (RequiresMountsFor= of /tank does not wait for /tank/Photos).
   */
  mounts: z.array(absolutePath).default([]),
  /** Time of day it starts; without it homefleet places it in the first free window after the night's local backups. */
  schedule: timeOfDay.optional(),
  keepDaily: z.int().min(1).default(7),
  keepWeekly: z.int().min(0).default(5),
  /** Monthly snapshots kept (0: none; a year of monthly copies is 12). */
  keepMonthly: z.int().min(0).default(0),
  keepYearly: z.int().min(0).default(3),
  /** `restic check` of this repository, as a systemd calendar expression; none without it. */
  checkCalendar: z
    .string()
    .superRefine((value, ctx) => {
      const problem = calendarProblem(value);
      // The message quotes the value already.
      if (problem) ctx.addIssue({ code: "custom", message: problem, params: { hideValue: true } });
    })
    .optional(),
});

export const BackupSchema = z.strictObject({
  dir: absolutePath.default("/var/backup/homefleet"),
  /** seed 000: 30-day retention. */
  retentionDays: z.int().min(1).max(3650).default(30),
  /** seed 000: staggered so the jobs never compete for I/O: dump 02:00, Redis 02:30, config 02:45. */
  schedule: z
    .strictObject({ postgresql: timeOfDay.default("02:00"), redis: timeOfDay.default("02:30"), config: timeOfDay.default("02:45") })
    .default({ postgresql: "02:00", redis: "02:30", config: "02:45" }),
  /** Below the 15-minute gap between jobs, so the stagger survives the randomization. */
  randomizedDelaySec: z.int().min(0).max(3600).default(600),
  offsite: OffsiteBackupSchema.optional(),
  /** Further restic repositories by name, each with its own paths, schedule and retention. */
  repositories: z.record(repositoryName, RepositorySchema).optional(),
});

const domainName = z.string().regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: "expected a DNS name" });
/** Not starting with '-': systemctl would read it as an option (`--no-block.service`). */
const unitName = z.string().regex(/^[A-Za-z0-9@_:][A-Za-z0-9@._:-]*\.(service|socket)$/, { error: "expected a unit name such as nginx.service" });
/** The renewal scripts refuse anything but https, on every run. */
const httpsUrl = z.url().refine((url) => url.startsWith("https://"), { error: "expected an https:// URL" });

export const CertificateSchema = z.strictObject({
  domains: z.array(domainName).min(1, { error: "expected at least one domain" }),
  issuer: z.enum(["acme", "step-ca"]),
  acme: z
    .strictObject({
      /** ACME directory; default Let's Encrypt. */
      server: withoutPassword(httpsUrl, "an ACME directory needs none").default("https://acme-v02.api.letsencrypt.org/directory"),
      email: z.email(),
      /** Port of lego's HTTP-01 responder (forward :80 to it if it is not 80). */
      httpPort: port().default(80),
    })
    .optional(),
  /**
   * A private step-ca, through its ACME provisioner: the names are proven by HTTP-01 like any
   * ACME CA, so no provisioner password is needed and every name is requested.
   */
  stepCa: z
    .strictObject({
      url: withoutPassword(httpsUrl, "the CA authenticates with its provisioner, not the URL"),
      /** The root that signs the CA's own TLS certificate. */
      rootCert: absolutePath,
      /** Name of the CA's ACME provisioner (`step ca provisioner add acme --type ACME`). */
      provisioner: z.string().regex(/^[A-Za-z0-9._-]+$/, { error: "expected a provisioner name (letters, digits, . _ -)" }).default("acme"),
      /** ACME account contact; step-ca sends no mail. Default hostmaster@<first domain>. */
      email: z.email().optional(),
      /** Port of lego's HTTP-01 responder (forward :80 to it if it is not 80). */
      httpPort: port().default(80),
    })
    .optional(),
  /**
   * Group that may read the key (0640): the group of the service that uses the certificate, e.g.
   * postgres or www-data. Without it the key is root's alone (0600).
   */
  group: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "expected a group name (lowercase letters, digits, _ and -, at most 32)" })
    .refine((g) => g !== "root", { error: "the key is root's already: name the group of the service that reads it, or leave group out" })
    .optional(),
  /** Renew this many days before expiry. */
  renewBeforeDays: z.int().min(1).max(90).default(30),
  /** Unit reloaded (never restarted) after a new certificate, e.g. nginx.service. */
  reloadUnit: unitName.optional(),
});

/** Where a virtual host sends requests: a stack of the same host (its published port) or an http:// URL. */
const ProxyUpstreamSchema = z.union([
  z.strictObject({ stack: z.string().min(1) }),
  z.strictObject({
    url: withoutPassword(
      // Written into nginx's configuration: letters, digits and . _ ~ / - only, nothing nginx would parse.
      z.string().regex(/^http:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?$/, { error: "expected an http:// URL such as http://127.0.0.1:8080 (the proxy ends TLS; the upstream is on this host or its LAN)" }),
      "the upstream authenticates its clients itself",
    ),
  }),
]);

export const ProxyVhostSchema = z.strictObject({
  /** Names it answers to; each must be one of its certificate's domains. */
  domains: z.array(domainName.refine((d) => !d.startsWith("*."), { error: "a wildcard name needs a DNS-01 certificate, which homefleet does not order" })).min(1, { error: "expected at least one domain" }),
  /** A certificate of this host (homefleet:hosts.<host>.certificates.<name>); its renewal reloads the proxy. */
  certificate: z.string().min(1),
  upstream: ProxyUpstreamSchema,
  /** Largest request body; nginx's own default of 1m breaks uploads. */
  maxBodySize: z.string().regex(/^[1-9][0-9]*[kmg]?$/, { error: "expected a size such as 512k, 50m or 1g" }).default("10m"),
  /** Pass WebSocket upgrades through to the upstream. */
  websockets: z.boolean().default(false),
  /** How long to wait for the upstream's answer (slow for LLM completions), in seconds. */
  readTimeoutSec: z.int().min(1).max(3600).default(60),
});

/** An nginx reverse proxy on the host: TLS with homefleet's certificates, HTTP redirected to HTTPS. */
export const ProxySchema = z.strictObject({
  /** Address nginx listens on, ports 80 and 443. */
  listenAddress: ipv4.default("0.0.0.0"),
  vhosts: z.record(resourceName, ProxyVhostSchema).refine((v) => Object.keys(v).length > 0, { error: "expected at least one virtual host" }),
});

/** A unit name a job may be ordered after or require, e.g. postgresql.service or tank.mount. */
const dependencyUnit = z.string().regex(/^[A-Za-z0-9@_:][A-Za-z0-9@._:-]*\.(service|socket|mount|target|path|device)$/, { error: "expected a unit name such as postgresql.service or tank.mount" });
/** Text systemd reads literally on both flavours: no `%` (a specifier) and no `\` (an escape). */
const literalText = (max: number) => z.string().min(1).max(max).regex(/^[^%\\]*$/, { error: "expected text without % or \\ (systemd would read them as specifiers and escapes)" });
/** A calendar expression systemd accepts (config/calendar.ts). */
const calendarExpression = z.string().superRefine((value, ctx) => {
  const problem = calendarProblem(value);
  // The message quotes the value already.
  if (problem) ctx.addIssue({ code: "custom", message: problem, params: { hideValue: true } });
});

/**
 * A scheduled job (`homefleet:hosts.<host>.jobs.<name>`): any command on a timer, as a oneshot
 * service and a timer of the job's name, hardened like homefleet's own units and placed in the
 * review's timer plan. Seed 001's vulcan runs about thirty of them (scrubs, trims, prunes, syncs).
 */
export const JobSchema = z.strictObject({
  /** The unit's Description=. Default: `homefleet job <name>`. */
  description: literalText(120).optional(),
  /** What runs: `debian` on plain systemd hosts, `nix` on NixOS hosts; give both to run it on either. */
  program: z.strictObject({
    /** Absolute path of the executable on a Debian host, e.g. /usr/sbin/fstrim. */
    debian: z.string().regex(/^\/[A-Za-z0-9._+/-]*[A-Za-z0-9._+-]$/, { error: "expected the program's absolute path, such as /usr/sbin/fstrim" }).optional(),
    /** nixpkgs attribute and the binary in its bin/, e.g. { pkg: util-linux, bin: fstrim }. */
    nix: z
      .strictObject({
        pkg: z.string().regex(/^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$/, { error: "expected a nixpkgs attribute path such as util-linux or python3Packages.borgbackup" }),
        bin: z.string().regex(/^[A-Za-z0-9._+-]+$/, { error: "expected the name of a binary in the package's bin/" }),
      })
      .optional(),
  }),
  /** Arguments, one list entry each; never parsed by a shell. */
  args: plainArguments(z.string()).default([]),
  /** When it runs: a systemd calendar expression, e.g. "Sun *-*-* 03:00:00" or "*:0/15". */
  calendar: calendarExpression,
  /** Catch up on a run missed while the host was off (seed 001). */
  persistent: z.boolean().default(true),
  /** Random delay after the calendar time; the review counts it in the job's window. */
  randomizedDelaySec: z.int().min(0).max(86400).default(0),
  /** Runs as this user (default root, without capabilities: see capabilities). */
  user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "expected a Unix user name" }).optional(),
  group: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "expected a Unix group name" }).optional(),
  /** Directories and files it writes (ReadWritePaths=); everything else is read-only. Each must exist. */
  writePaths: z.array(absolutePath).default([]),
  /** Paths whose filesystems must be mounted first (RequiresMountsFor=); writePaths are added. */
  mounts: z.array(absolutePath).default([]),
  /** Network access (IPv4/IPv6, after network-online.target). Without it the job has none at all. */
  network: z.boolean().default(false),
  /** Non-secret environment. PATH is homefleet's: give the program's absolute path instead. */
  environment: plainEnvironment(literalText(4096)).default({}),
  /**
   * Secret environment: each variable's value is a secret config key (`config:<key>`, stored with
   * `pulumi config set --secret`), written to a root-only file systemd reads before the job starts.
   */
  secretEnvironment: z.record(envName, z.string().regex(/^config:[A-Za-z][A-Za-z0-9_]*$/, { error: "expected config:<secret config key>" })).default({}),
  /** The run is stopped (and fails) after this long, so a hung job cannot block every later run. */
  timeoutSec: z.int().min(1).max(7 * 86400).default(4 * 3600),
  /** Device nodes it opens read-write, e.g. [/dev/zfs] for zpool (DeviceAllow=); every other device stays closed. */
  devices: z.array(z.string().regex(/^\/dev\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, { error: "expected a device node such as /dev/zfs" })).default([]),
  /** Capabilities it keeps, e.g. [CAP_SYS_ADMIN] for fstrim. Default none, even as root. */
  capabilities: z.array(z.string().regex(/^CAP_[A-Z_]+$/, { error: "expected a capability name such as CAP_SYS_ADMIN" })).default([]),
  /** Units it starts after (After=), e.g. postgresql.service. */
  after: z.array(dependencyUnit).default([]),
  /** Units it needs (Requires= and After=): the job fails when one cannot start. */
  requires: z.array(dependencyUnit).default([]),
});

export const HostMonitoringSchema = z.strictObject({
  /** Address the exporters listen on. 127.0.0.1 unless the Prometheus host scrapes over the network. */
  listenAddress: ipv4.default("127.0.0.1"),
});

/**
 * Packaged Prometheus exporters homefleet runs on request (`homefleet:hosts.<host>.exporters`), each
 * through nixpkgs' services.prometheus.exporters.<name> and, where Debian packages it, Debian's
 * prometheus-<name>-exporter (model/exporterCatalog.ts has the port and the flavours of each).
 */
export const PACKAGED_EXPORTERS = ["nginx", "postfix", "bind", "dovecot", "zfs", "php-fpm", "smartctl"] as const;

export const HostSchema = z.strictObject({
  address: z.string().min(1).regex(/^[A-Za-z0-9.:_-]+$/, { error: "expected a hostname or IP address" }),
  port: port().default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { error: "expected a Unix user name" }).default("root"),
  arch: z.enum(["aarch64", "x86_64"]),
  os: z.enum(["nixos", "systemd"]),
  /** The host's SSH public key (`ssh-ed25519 AAAA...`); when given, deployments refuse any other. */
  hostKey: z
    .string()
    .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*$/, { error: "expected an OpenSSH public key such as 'ssh-ed25519 AAAA...'" })
    .optional(),
  /** The host's PostgreSQL server, shared by every stack on the host that has a database. */
  postgresql: HostPostgresSchema.default({ port: 5432, settings: {} }),
  podman: z
    .strictObject({
      /** `disabled` adds `--cgroups=disabled` to every container: only for hosts without cgroup v2 delegation (test containers). */
      cgroups: z.enum(["enabled", "disabled"]).default("enabled"),
    })
    .default({ cgroups: "enabled" }),
  /** Dumps, Redis snapshots and a config archive every night, with retention and metrics. */
  backup: BackupSchema.default({ dir: "/var/backup/homefleet", retentionDays: 30, schedule: { postgresql: "02:00", redis: "02:30", config: "02:45" }, randomizedDelaySec: 600 }),
  /** Certificates by name, renewed by timers staggered 30 minutes apart. */
  certificates: z
    .record(
      // The renewal metric is homefleet_certificate_renewal_<name>: a name starting renewal_ would clash.
      z.string().regex(/^(?!renewal_)[a-z0-9][a-z0-9_-]{0,40}$/, { error: "expected a certificate name of lowercase letters, digits, '-' and '_', not starting with renewal_" }),
      CertificateSchema,
    )
    .default({}),
  monitoring: HostMonitoringSchema.default({ listenAddress: "127.0.0.1" }),
  /** A reverse proxy (nginx) in front of the host's stacks. */
  proxy: ProxySchema.optional(),
  /** Rollout wave: hosts of wave N+1 deploy only after every host of wave N deployed healthy. */
  wave: z.int().min(0).max(99).default(0),
  /** Scheduled jobs by name; the name is the unit's (`<name>.service`, `<name>.timer`). */
  jobs: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,47}$/, { error: "expected a job name of lowercase letters, digits and '-', starting with a letter, at most 48 characters" }), JobSchema).default({}),
  /**
   * Packaged exporters of services homefleet does not run itself (the host's nginx, Postfix, ZFS
   * pool...), listening on monitoring.listenAddress and scraped by the fleet's Prometheus. A name
   * the host's flavour does not package is refused.
   */
  exporters: z.array(z.enum(PACKAGED_EXPORTERS, { error: `expected one of ${PACKAGED_EXPORTERS.join(", ")}` })).optional(),
});

const duration = z.string().regex(/^[1-9][0-9]*[smh]$/, { error: "expected a duration such as 30s, 5m or 4h" });

/** One way an alert reaches a person: exactly one of webhook and email. */
export const AlertReceiverSchema = z
  .strictObject({
    webhook: z
      .strictObject({
        /** Where Alertmanager POSTs its JSON (chat bridges, ntfy, healthchecks.io, ...). */
        url: withoutPassword(z.url({ protocol: /^https?$/ }), "give the token with bearerTokenConfig instead"),
        /** Secret config key with a bearer token, sent as `Authorization: Bearer ...`. */
        bearerTokenConfig: configKey.optional(),
      })
      .optional(),
    email: z
      .strictObject({
        to: z.email(),
        from: z.email(),
        /** SMTP server as host:port, e.g. smtp.example.org:587. */
        smarthost: z.string().regex(/^[A-Za-z0-9.-]+:[0-9]{1,5}$/, { error: "expected host:port, e.g. smtp.example.org:587" }),
        username: z.string().min(1).optional(),
        /** Secret config key with the SMTP password. */
        passwordConfig: configKey.optional(),
      })
      .optional(),
  })
  .refine((r) => (r.webhook ? 1 : 0) + (r.email ? 1 : 0) === 1, { error: "give exactly one of webhook and email" });

/** Alertmanager on the Prometheus host: who hears about alerts. */
export const AlertmanagerSchema = z.strictObject({
  receivers: z.record(resourceName, AlertReceiverSchema),
  /** The receiver every alert goes to (a key of receivers). */
  defaultReceiver: resourceName,
  /**
   * Dead man's switch: the always-firing Watchdog alert goes only to this receiver, every
   * heartbeatInterval; a service that expects it (healthchecks.io, a cron monitor) raises the
   * alarm when it stops, which means Prometheus, the rules or Alertmanager are broken.
   */
  heartbeatReceiver: resourceName.optional(),
  heartbeatInterval: duration.default("5m"),
  groupWait: duration.default("30s"),
  groupInterval: duration.default("5m"),
  repeatInterval: duration.default("4h"),
});

/** A URL path Prometheus scrapes: written into its configuration. */
const metricsPath = z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, { error: "expected an absolute URL path such as /metrics" });

/** An exporter homefleet does not run (a custom daemon of the host), scraped by the fleet's Prometheus. */
export const ScrapeTargetSchema = z.strictObject({
  /** The host it runs on (a key of homefleet:hosts). */
  host: z.string().min(1),
  port: port(),
  path: metricsPath.default("/metrics"),
  scheme: z.enum(["http", "https"]).default("http"),
  /** The address it listens on. Default: 127.0.0.1 on the Prometheus host, the host's address elsewhere. */
  address: ipv4.optional(),
});

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: "expected a Prometheus label name (letters, digits and _, not starting with a digit)" });
const promDuration = z.string().regex(/^([0-9]+(ms|s|m|h|d|w|y))+$/, { error: "expected a Prometheus duration such as 30s, 5m or 1h30m" });

/** One alert of the user's own rules, in Prometheus' rule format. */
export const UserAlertRuleSchema = z.strictObject({
  alert: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "expected an alert name of letters, digits and _, such as AidbErrorRate" }),
  /** PromQL; `promtool check rules` (homefleet test-rules) parses it. */
  expr: z.string().min(1),
  for: promDuration.optional(),
  /** `severity` is expected (critical, warning or info); `stack: <name>` ties the alert to a stack in the review's coverage. */
  labels: z.record(labelName, z.string()).default({}),
  annotations: z.record(labelName, z.string()).default({}),
});

/** One unit test of the rules in promtool's own format (`promtool test rules`), keys as promtool spells them. */
export const RuleTestSchema = z.strictObject({
  name: z.string().min(1).optional(),
  interval: promDuration.default("1m"),
  input_series: z.array(z.strictObject({ series: z.string().min(1), values: z.string().min(1) })).min(1, { error: "expected at least one input series" }),
  alert_rule_test: z
    .array(
      z.strictObject({
        eval_time: promDuration,
        alertname: z.string().min(1),
        exp_alerts: z.array(z.strictObject({ exp_labels: z.record(labelName, z.string()).default({}), exp_annotations: z.record(labelName, z.string()).default({}) })).default([]),
      }),
    )
    .default([]),
  promql_expr_test: z
    .array(
      z.strictObject({
        expr: z.string().min(1),
        eval_time: promDuration,
        exp_samples: z.array(z.strictObject({ labels: z.string().min(1), value: z.number() })).default([]),
      }),
    )
    .default([]),
});

/** Grafana on a NixOS host, provisioned with the Prometheus datasource and a dashboard per stack. */
export const GrafanaSchema = z.strictObject({
  /** The host it runs on: the Prometheus host (Prometheus listens on its loopback only), and a NixOS host. */
  host: z.string().min(1).optional(),
  listenAddress: ipv4.default("127.0.0.1"),
  port: port().default(3000),
  /** The public name (server.domain), e.g. grafana.example.org behind the proxy. */
  domain: domainName.optional(),
  adminUser: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, { error: "expected a user name of letters, digits and . _ @ -" }).default("admin"),
  /** Secret config key holding the admin password (read by Grafana from a credential file, never written in clear). */
  adminPasswordConfig: configKey,
  /** Secret config key holding Grafana's secret_key (signs and encrypts what it stores); nixpkgs requires one. */
  secretKeyConfig: configKey,
});

/** `homefleet:monitoring`: where Prometheus runs and what it scrapes. */
export const MonitoringSchema = z.strictObject({
  /** The host (a key of homefleet:hosts) that runs Prometheus with the fleet's scrape config and alert rules. */
  prometheusHost: z.string().min(1),
  scrapeInterval: z.string().regex(/^[1-9][0-9]*[sm]$/, { error: "expected a duration such as 30s or 1m" }).default("30s"),
  /** How long Prometheus keeps data. */
  retention: z.string().regex(/^[1-9][0-9]*[dwy]$/, { error: "expected a duration such as 15d" }).default("30d"),
  /** Alertmanager next to Prometheus, with the receivers that notify a person. */
  alertmanager: AlertmanagerSchema.optional(),
  /** Exporters homefleet does not run, by job name (the `job` label of their series). */
  scrapeTargets: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,47}$/, { error: "expected a job name of lowercase letters, digits, '-' and '_', starting with a letter" }), ScrapeTargetSchema).optional(),
  /** The user's own alert rules by group name, in a rules file beside homefleet's. */
  rules: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: "expected a group name of letters, digits, '.', '_' and '-'" }), z.array(UserAlertRuleSchema).min(1, { error: "expected at least one rule" })).optional(),
  /** Unit tests of the rules (homefleet's and the user's), run by `homefleet test-rules` and the review with the real promtool. */
  ruleTests: z.array(RuleTestSchema).optional(),
  /** Grafana with the Prometheus datasource and a dashboard per stack. */
  grafana: GrafanaSchema.optional(),
});

/** Where a secret environment value comes from. Values never appear in config or rendered files. */
export const SecretRefSchema = z.union(
  [
    z.enum(["database.password", "database.url", "cache.password", "cache.url", "litellm.masterKey"]),
    z.string().regex(/^config:[A-Za-z][A-Za-z0-9_]*$/),
  ],
  { error: "expected database.password, database.url, cache.password, cache.url, litellm.masterKey or config:<secret config key>" },
);

export const HealthCheckSchema = z.strictObject({
  /** HTTP path probed on the published port; a 2xx answer means healthy. */
  path: z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/?-]*$/, { error: "expected an absolute URL path such as /health" }),
  /** seed 000: "health check with generous timeout"; LiteLLM takes over a minute to boot with a database. */
  timeoutSec: z.int().min(5).max(1800).default(180),
  intervalSec: z.int().min(1).max(60).default(5),
});

/**
 * Device paths that are disks, raw memory or disk controllers: valid syntax for `podman --device`,
 * and each gives the container the host's data underneath every filesystem and permission (a
 * `mkfs` or `dd` inside the container wipes a host disk). LVM volumes at /dev/<vg>/<lv> cannot be
 * told apart by name; /dev/mapper/ and /dev/dm-* (their other names) are refused.
 */
const DISK_DEVICE = /^\/dev\/((sd|hd|vd|xvd)[a-z]+[0-9]*|(nvme|mmcblk|md|dm-|loop|nbd|rbd|zd|sg|ram|pmem|mtd|mtdblock|bcache|nullb)[0-9][^/]*|(mapper|disk|zvol|block|md)(\/.*)?|mem|kmem|port|root)$/;

/** A host device handed to the container (`podman --device`). */
export const DeviceSchema = z
  .string()
  .regex(/^\/dev\/[A-Za-z0-9._/:-]+$/, { error: "expected a device path under /dev, such as /dev/dri or /dev/nvidia0", abort: true })
  .refine((d) => !d.split("/").some((seg, i) => i > 0 && (seg === "" || seg === "." || seg === "..")), { error: "expected a normalized path under /dev (no empty, '.' or '..' segments, no trailing '/')", abort: true })
  .refine((d) => !DISK_DEVICE.test(d), {
    error: "is a disk, a disk controller or raw memory: a container given it can read and overwrite the host's data below every filesystem and permission; mount a directory as a volume instead",
  });

/** A port published besides the main one (`port`/`publish`), e.g. a UDP port of a media or DNS server. */
export const PublishedPortSchema = z.strictObject({
  /** The port the process listens on inside the container. */
  container: port(),
  /** The port on the host. Default: the same as `container`. */
  hostPort: port().optional(),
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
  /** seed 002/004: published ports stay on loopback unless a reverse proxy needs otherwise. */
  address: ipv4.default("127.0.0.1"),
});

/** Another stack on the same host whose container this one reaches over that stack's bridge. */
export const LinkSchema = z.strictObject({
  /** The linked stack (a key of `homefleet:stacks`, on the same host). */
  stack: resourceName,
  /**
   * Prefix of the variables that carry the linked container's address into this container:
   * `<env>_HOST` and `<env>_PORT`. Default: the stack name in upper case, '-' as '_'.
   */
  env: envName.optional(),
});

export const ContainerSchema = z.strictObject({
  /** Image reference; pinned by tag, better by digest (`name@sha256:...`). `latest` is refused. */
  image: z.string().regex(/^[a-z0-9][a-z0-9._/:-]*(@sha256:[a-f0-9]{64})?$/, { error: "expected an image reference such as ghcr.io/org/name:1.2.3 or name@sha256:<64 hex>" }),
  /** Arguments after the image. */
  command: plainArguments(z.string().min(1)).optional(),
  /** The port the process listens on inside the container. */
  port: port().optional(),
  publish: z
    .strictObject({
      hostPort: port().optional(),
      /** seed 002/004: published ports stay on loopback unless a reverse proxy needs otherwise. */
      address: ipv4.default("127.0.0.1"),
    })
    .optional(),
  /** Further published ports, each with its protocol; the health check stays on the main `port`. */
  ports: z.array(PublishedPortSchema).default([]),
  /** Host devices for the container (`podman --device`), e.g. /dev/dri for a GPU. Disks are refused. */
  devices: z.array(DeviceSchema).default([]),
  environment: plainEnvironment(z.string()).default({}),
  secretEnvironment: z.record(envName, SecretRefSchema).default({}),
  volumes: z
    .array(
      z.strictObject({
        source: z.string().regex(/^\/[A-Za-z0-9._/-]+$/, { error: "expected an absolute host path" }),
        target: z.string().regex(/^\/[A-Za-z0-9._/-]+$/, { error: "expected an absolute container path" }),
        readOnly: z.boolean().default(false),
        /**
         * Nothing here needs keeping (a cache, re-downloadable model weights): not backed up.
         * Every other writable volume is archived nightly into the host's backup directory.
         */
        ephemeral: z.boolean().default(false),
        /**
         * Backed up elsewhere: by this restic repository of the host (backup.repositories.<name>),
         * whose paths hold the volume's source. Not archived nightly then.
         */
        repository: repositoryName.optional(),
      }),
    )
    .default([]),
  /** seed 000: MemoryMax leaves room for PostgreSQL and Redis on the same host. */
  memoryMax: byteSize.default("1G"),
  /** systemd CPUQuota, e.g. 200% for two cores. */
  cpuQuota: z.string().regex(/^[1-9][0-9]{0,4}%$/, { error: "expected a percentage such as 150%" }).default("100%"),
  restart: z
    .strictObject({
      policy: z.enum(["on-failure", "always"]).default("on-failure"),
      delaySec: z.int().min(1).max(3600).default(30),
    })
    .default({ policy: "on-failure", delaySec: 30 }),
  healthCheck: HealthCheckSchema.optional(),
});

export const NetworkSchema = z.strictObject({
  /**
   * `bridge` (default): a dedicated podman network per stack (seed 000: `--network=host` breaks
   * container isolation). `host` is allowed and produces a warning.
   */
  mode: z.enum(["bridge", "host"]).default("bridge"),
  /** Podman network name. Default: `hf-<stack>`. */
  name: resourceName.optional(),
  /** Subnet of the bridge; its first address is the gateway that PostgreSQL and Redis also listen on. */
  subnet: cidr.optional(),
  /**
   * Linux bridge name, at most 13 characters (the kernel allows 15 and homefleet adds `-k` for
   * the bridge's anchor interface). Default: `hf` + the stack name without '-', cut to 13.
   */
  interface: z.string().regex(/^[a-z][a-z0-9]{0,12}$/, { error: "expected an interface name of at most 13 lowercase letters and digits" }).optional(),
});

export const DatabaseSchema = z.strictObject({
  /** Default: the stack name with '-' as '_'. */
  name: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: "expected a PostgreSQL identifier" }).optional(),
  /** Default: same as the database name. */
  user: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: "expected a PostgreSQL identifier" }).optional(),
});

export const CacheSchema = z.strictObject({
  port: port().default(6379),
  maxMemory: z.string().regex(/^[1-9][0-9]*(kb|mb|gb)$/, { error: "expected a Redis size such as 256mb" }).default("256mb"),
  maxMemoryPolicy: z.enum(["noeviction", "allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "allkeys-random", "volatile-random", "volatile-ttl"]).default("allkeys-lru"),
  /** seed 004: RDB plus AOF with fsync every second loses at most one second of writes. */
  appendOnly: z.boolean().default(true),
  appendFsync: z.enum(["always", "everysec", "no"]).default("everysec"),
  /** RDB save points as [seconds, changes] (seed 004: 3600 1 300 100 60 10000). */
  save: z
    .array(z.tuple([z.int().min(1), z.int().min(1)]))
    .default([
      [3600, 1],
      [300, 100],
      [60, 10000],
    ]),
});

export const LiteLLMModelSchema = z.strictObject({
  /** The public model name clients ask for. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, { error: "expected a model name of letters, digits and . _ : / -" }),
  /** The LiteLLM provider model, e.g. `openai/gpt-4o` or `anthropic/claude-sonnet-4-5`. */
  model: z.string().min(1),
  apiBase: withoutPassword(z.url(), "give the provider's key with apiKeyConfig instead").optional(),
  /** Name of a secret Pulumi config key that holds the provider API key (`pulumi config set --secret`). */
  apiKeyConfig: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, { error: "expected a Pulumi config key name" }).optional(),
  rpm: z.int().positive().optional(),
  tpm: z.int().positive().optional(),
  timeout: z.int().positive().optional(),
  streamTimeout: z.int().positive().optional(),
  /** seed 004: a disabled provider stays in config but no fallback may point at it. */
  enabled: z.boolean().default(true),
});

export const LiteLLMSchema = z.strictObject({
  models: z.array(LiteLLMModelSchema).min(1, { error: "expected at least one model" }),
  /** Fallback chains: model → models tried in order when it fails. No cycles, no disabled or unknown models. */
  fallbacks: z.record(z.string(), z.array(z.string()).min(1)).default({}),
  contextWindowFallbacks: z.record(z.string(), z.array(z.string()).min(1)).default({}),
  router: z
    .strictObject({
      routingStrategy: z.enum(["simple-shuffle", "least-busy", "usage-based-routing", "latency-based-routing"]).default("simple-shuffle"),
      /** seed 004: 2 retries at router level. */
      numRetries: z.int().min(0).max(10).default(2),
      /** seed 004: router 30 s per request. */
      timeout: z.int().positive().default(30),
      /** seed 004 circuit breaker: 5 failures, then 60 s cooldown. */
      allowedFails: z.int().min(1).default(5),
      cooldownTime: z.int().min(1).default(60),
    })
    .default({ routingStrategy: "simple-shuffle", numRetries: 2, timeout: 30, allowedFails: 5, cooldownTime: 60 }),
  /**
   * Cache responses in the stack's Redis (LiteLLM `litellm_settings.cache`): an identical request
   * is answered from the cache for `ttlSec` instead of calling the provider again. Needs `cache`.
   */
  responseCache: z.strictObject({ ttlSec: z.int().min(1).max(30 * 86400).default(600) }).optional(),
  /**
   * LiteLLM's Prometheus metrics: adds the `prometheus` callback (litellm_settings.callbacks) and
   * scrapes its /metrics/ on the main port. LiteLLM documents them as an Enterprise feature: without
   * a license (LITELLM_LICENSE in container.secretEnvironment) the endpoint carries almost nothing.
   */
  prometheusMetrics: z.boolean().optional(),
  settings: z
    .strictObject({
      /** seed 004: request 60 s. */
      requestTimeout: z.int().positive().default(60),
      /** seed 004: 3 retries at LiteLLM level. */
      numRetries: z.int().min(0).max(10).default(3),
      dropParams: z.boolean().default(true),
    })
    .default({ requestTimeout: 60, numRetries: 3, dropParams: true }),
});

/** A container's own Prometheus metrics endpoint, scraped by the fleet's Prometheus. */
export const StackMetricsSchema = z.strictObject({
  /** The container port that serves it: the main port (default) or one of container.ports (TCP). */
  port: port().optional(),
  path: metricsPath.default("/metrics"),
});

/** A JSON value under a secret-named key that is neither a path nor a reference: the secret itself. */
function plaintextSecret(value: unknown, path: string[] = []): string[] | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = plaintextSecret(value[i], [...path, String(i)]);
      if (found) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_OPTION_KEY.test(key) && typeof v === "string" && !isSecretReference(v)) return [...path, key];
    const found = plaintextSecret(v, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/**
 * A service the host's distribution runs (`homefleet:stacks.<s>.native`): a nixpkgs module on
 * NixOS, a Debian package on a plain systemd host (model/nativeCatalogue.ts lists them), with
 * homefleet's ordering, backups, monitoring and review applied to its units.
 */
export const NativeSchema = z.strictObject({
  service: z.enum(NATIVE_SERVICES as [string, ...string[]], { error: `expected one of the services homefleet runs natively: ${NATIVE_SERVICES.join(", ")}` }),
  /**
   * The module's own options (NixOS only), written under `services.<module>` after homefleet's:
   * JSON values. A key named like a password, secret or token must hold a file path or a reference
   * (`$__file{...}`, `!secret ...`), never the secret: the Nix store is world-readable.
   */
  options: z
    .record(z.string(), z.json())
    .default({})
    .superRefine((options, ctx) => {
      const found = plaintextSecret(options);
      if (found) ctx.addIssue({ code: "custom", path: found, message: "holds a secret in clear, which would be written into the world-readable Nix store: give the path of a file the service reads (its ...File option, or $__file{PATH})", params: { hideValue: true } });
    }),
  /** The port it listens on. Default: the service's own (Grafana 3000, Home Assistant 8123, ...). */
  port: port().optional(),
  /** The address it listens on, where the module has an option for it. Default 127.0.0.1 there. */
  address: ipv4.optional(),
  /** HTTP path probed on the port; default the service's known health path, if it serves plain HTTP. */
  healthCheck: HealthCheckSchema.optional(),
  /** State directories besides the service's own (e.g. shares, media), archived nightly unless backup is false. */
  dataDirs: z.array(absolutePath).default([]),
  /** Archive the data directories nightly (the service's own and dataDirs). */
  backup: z.boolean().default(true),
  /** Paths whose filesystems must be mounted before the service starts (RequiresMountsFor=); dataDirs are added. */
  mounts: z.array(absolutePath).default([]),
  memoryMax: byteSize.optional(),
  cpuQuota: z.string().regex(/^[1-9][0-9]{0,4}%$/, { error: "expected a percentage such as 150%" }).optional(),
});

export const StackSchema = z.strictObject({
  /** The host (a key of `homefleet:hosts`) this stack runs on. */
  host: z.string().min(1),
  /** `litellm` fills in the LiteLLM image defaults, port 4000, readiness health check and config file. */
  kind: z.enum(["container", "litellm"]).default("container"),
  network: NetworkSchema.default({ mode: "bridge" }),
  /** A podman container; give exactly one of container and native. */
  container: ContainerSchema.optional(),
  /** A service of the host's distribution instead of a container (a nixpkgs module or a Debian package). */
  native: NativeSchema.optional(),
  /** A database and role on the host's PostgreSQL. Omit for none. */
  database: DatabaseSchema.optional(),
  /** A Redis instance of the stack's own. Omit for none. */
  cache: CacheSchema.optional(),
  litellm: LiteLLMSchema.optional(),
  /**
   * Stacks on the same host this stack's container reaches (seed 002: an app reaching Qdrant):
   * the container also joins each linked stack's bridge, starts after its container and gets its
   * address in the environment.
   */
  links: z.array(LinkSchema).default([]),
  /** Scrape the container's own /metrics (for kind litellm, litellm.prometheusMetrics does it). */
  metrics: StackMetricsSchema.optional(),
});

export const HostsSchema = z.record(resourceName, HostSchema);
export const StacksSchema = z.record(resourceName, StackSchema);

/** `homefleet:review`: findings accepted on purpose, and the exposure limit. */
export const ReviewSchema = z.strictObject({
  accept: z
    .array(
      z.strictObject({
        /** The check's id, e.g. `host-network` (see docs/cli.md, "homefleet review"). */
        check: z.string().regex(/^[a-z-]+$/, { error: "expected a check id such as host-network" }),
        /** The finding's config path, exactly as the review prints it. */
        path: z.string().min(1),
        /** Why this is acceptable here: shown in every review. */
        reason: z.string().min(15, { error: "expected a written reason of at least 15 characters" }),
      }),
    )
    .default([]),
  exposureThreshold: z.number().min(0).max(10).default(2.0),
});

/** `homefleet:deploy`: how `pulumi up` pushes generations to hosts. */
/** Time the revert timer leaves beyond the health gate: the switch itself, restarts, the confirming command. */
export const CONFIRM_MARGIN_SEC = 60;

export const DeploySchema = z
  .strictObject({
    /** false: render and review only; no host-deployment resources (and no SSH key needed). */
    enabled: z.boolean().default(true),
    /**
     * The host rolls itself back unless the deployer confirms the new generation within this time.
     * It must outlast the health gate, or a healthy deployment that is slow to start is reverted.
     */
    confirmAfterSec: z.number().int().min(30).max(3600).default(420),
    /** How long the health gate waits for every unit and check (image pulls and migrations count). */
    healthTimeoutSec: z.number().int().min(10).max(3600).default(300),
    /**
     * After every check first passes, how long they must keep passing before the generation is
     * confirmed: a service that crashes seconds after it first answered is rolled back.
     */
    healthSoakSec: z.number().int().min(0).max(3600).default(30),
    /** Generations kept on each host; the current and the one to roll back to are never removed. */
    keepGenerations: z.number().int().min(2).max(100).default(5),
    /** Install the Debian packages a plain systemd host needs (apt-get, only what dpkg lacks). */
    installPackages: z.boolean().default(true),
  })
  .refine((d) => d.confirmAfterSec >= d.healthTimeoutSec + d.healthSoakSec + CONFIRM_MARGIN_SEC, {
    path: ["confirmAfterSec"],
    error: `must be at least healthTimeoutSec + healthSoakSec + ${CONFIRM_MARGIN_SEC}: the revert timer would roll back a healthy deployment still inside its health gate`,
  });

export type DeployConfig = z.infer<typeof DeploySchema>;

/** `homefleet:promoteFrom`: the stack (name, or org/project/stack) whose healthy release this one may deploy. */
export const PromoteFromSchema = z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/, { error: "expected a stack name such as staging, or org/project/stack" });

/** `homefleet:promoteOverride`: lets an unproven release through, for an emergency, and says why in every preview. */
export const PromoteOverrideSchema = z.strictObject({
  reason: z.string().min(15, { error: "expected a written reason of at least 15 characters" }),
});

export type PromoteOverrideConfig = z.infer<typeof PromoteOverrideSchema>;
export type ReviewConfig = z.infer<typeof ReviewSchema>;
export type HostConfig = z.infer<typeof HostSchema>;
export type MonitoringConfig = z.infer<typeof MonitoringSchema>;
export type AlertmanagerConfig = z.infer<typeof AlertmanagerSchema>;
export type CertificateConfig = z.infer<typeof CertificateSchema>;
export type ProxyConfig = z.infer<typeof ProxySchema>;
export type JobConfig = z.infer<typeof JobSchema>;
export type RepositoryConfig = z.infer<typeof RepositorySchema>;
export type StackConfig = z.infer<typeof StackSchema>;
export type ScrapeTargetConfig = z.infer<typeof ScrapeTargetSchema>;
export type UserAlertRuleConfig = z.infer<typeof UserAlertRuleSchema>;
export type RuleTestConfig = z.infer<typeof RuleTestSchema>;
export type GrafanaConfig = z.infer<typeof GrafanaSchema>;
export type PackagedExporter = (typeof PACKAGED_EXPORTERS)[number];
export type ContainerConfig = z.infer<typeof ContainerSchema>;
export type NativeConfig = z.infer<typeof NativeSchema>;
export type CacheConfig = z.infer<typeof CacheSchema>;
export type LiteLLMConfig = z.infer<typeof LiteLLMSchema>;
export type LiteLLMModelConfig = z.infer<typeof LiteLLMModelSchema>;
export type SecretRef = z.infer<typeof SecretRefSchema>;
export type PublishedPortConfig = z.infer<typeof PublishedPortSchema>;
export type LinkConfig = z.infer<typeof LinkSchema>;
