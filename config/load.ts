/**
 * Turns raw stack config into a validated FleetConfig, or a ConfigError that lists every problem
 * with its full config path (`homefleet:stacks.litellm.container.port: expected integer 1-65535,
 * got "40o0"`). Nothing downstream runs on config that failed here.
 */
import { readFileSync } from "node:fs";
import { closest, distance } from "fastest-levenshtein";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Scalar } from "yaml";
import type { z } from "zod";
import { DeploySchema, HostsSchema, IPV4_ADDRESS, MonitoringSchema, PromoteFromSchema, PromoteOverrideSchema, ReviewSchema, StacksSchema, type DeployConfig, type PromoteOverrideConfig, type HostConfig, type MonitoringConfig, type ReviewConfig, type StackConfig } from "./schema";
import { checkLiteLLMFallbacks, findCycle } from "./litellmFallbacks";
import { bridgeGateway, databaseNames, linkEnvPrefix, localRepositoryPath, malformedPath, pathWithin, networkNames, reservedDatabaseName, reservedJobName, reservedRoleName, unsafeDataDirectory, unsafeWritePath } from "./reserved";
import { fastStackYaml } from "./stackYaml";
import { monitoringChecks } from "./monitoringChecks";
import { NATIVE_CATALOGUE, optionAt } from "../model/nativeCatalogue";

export const CONFIG_NAMESPACE = "homefleet";

/** A top-level config key as the stack file spells it: `homefleet:<key>`. */
function ns(key: string): string {
  return `${CONFIG_NAMESPACE}:${key}`;
}

export interface FleetConfig {
  readonly hosts: Readonly<Record<string, HostConfig>>;
  readonly stacks: Readonly<Record<string, StackConfig>>;
  /** Where Prometheus runs; without it, exporters still run and no scrape config is written. */
  readonly monitoring?: MonitoringConfig;
  /** Findings accepted on purpose, and the exposure limit. */
  readonly review?: ReviewConfig;
  /** How `pulumi up` deploys (defaults when absent). */
  readonly deploy: DeployConfig;
  /** The stack whose healthy release this one promotes, and an emergency override. */
  readonly promotion?: { readonly from: string; readonly override?: PromoteOverrideConfig };
  /** Names of `homefleet:*` config keys present in the stack file (secret values are not read here). */
  readonly configKeys: readonly string[];
}

export interface ConfigProblem {
  /** Full config path, e.g. `homefleet:stacks.litellm.container.port`. */
  readonly path: string;
  readonly message: string;
  /** Where in the stack file, when the config was read from one: the key the path ends at, or its nearest ancestor there. */
  readonly location?: { readonly file: string; readonly line: number; readonly column: number };
}

/** `FILE:LINE:COLUMN: PATH: MESSAGE`, or `PATH: MESSAGE` without a location. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.location ? `${p.location.file}:${p.location.line}:${p.location.column}: ` : ""}${p.path}: ${p.message}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
  }
}

/**
 * `user:password@` at the start of a value or after `//` (`root:pw@box`, `https://u:p@host`), in
 * the JSON text of a refused value: a registry reference such as `ghcr.io/x:tag@sha256:...` has
 * a `/` before its `:` and does not match.
 */
const USERINFO_PASSWORD = /(?:"|\/\/)[^\s/@:"]+:[^\s/@"]+@/;

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  // An error is printed, logged and pasted into issues: a password it would repeat is left out.
  if (USERINFO_PASSWORD.test(text)) return "a value holding a password (user:password@), not repeated here";
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

export function joinPath(root: string, path: readonly PropertyKey[]): string {
  return [root, ...path.map(String)].join(".");
}

/** The schema a config path leads to, through objects, records and arrays (optional and default wrappers looked through). */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType>; valueType?: z.ZodType; element?: z.ZodType };
  const defOf = (s: z.ZodType | undefined) => (s as unknown as { _zod?: { def: Def } } | undefined)?._zod?.def;
  const unwrap = (s: z.ZodType | undefined): z.ZodType | undefined => {
    for (let d = defOf(s); d && (d.innerType || d.type === "pipe"); d = defOf(s)) s = d.type === "pipe" ? d.in : d.innerType;
    return s;
  };
  let current = unwrap(schema);
  for (const key of path) {
    const d = defOf(current);
    if (d?.type === "object") current = d.shape?.[String(key)];
    else if (d?.type === "record") current = d.valueType;
    else if (d?.type === "array") current = d.element;
    else return undefined;
    current = unwrap(current);
  }
  return current;
}

/** `"memroyMax"` → `"memroyMax" (did you mean "memoryMax"?)` when a key of the object there is close. */
function withGuess(key: string, known: readonly string[]): string {
  if (!known.length) return `"${key}"`;
  const guess = closest(key, [...known]);
  return distance(key.toLowerCase(), guess.toLowerCase()) <= Math.max(2, Math.floor(key.length / 4)) ? `"${key}" (did you mean "${guess}"?)` : `"${key}"`;
}

function zodProblems(root: string, raw: unknown, error: z.ZodError, schema: z.ZodType): ConfigProblem[] {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys;
      const shape = (schemaAt(schema, issue.path) as unknown as { _zod?: { def: { type: string; shape?: Record<string, unknown> } } } | undefined)?._zod?.def;
      const known = shape?.type === "object" ? Object.keys(shape.shape ?? {}) : [];
      return {
        path: joinPath(root, [...issue.path, ...(keys.length === 1 ? keys : [])]),
        message: keys.length === 1 ? `unknown key ${withGuess(keys[0], known)}` : `unknown keys ${keys.map((k) => withGuess(k, known)).join(", ")}`,
      };
    }
    if (issue.code === "invalid_key") {
      return { path: joinPath(root, issue.path), message: `bad name: ${issue.issues.map((i) => i.message).join("; ")}` };
    }
    const got = valueAt(raw, issue.path);
    // zod prefixes type and enum errors with "Invalid input: " / "Invalid option: "; the path already says where.
    const base = /^Invalid (input|option): expected /.test(issue.message) ? issue.message.replace(/^Invalid (input|option): /, "").replace(/, received \w+$/, "") : issue.message;
    // A missing key fails as invalid_type (objects, strings) or invalid_value (enums): both mean "required".
    const missing = got === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value");
    const hideValue = issue.code === "custom" && (issue.params as { hideValue?: boolean } | undefined)?.hideValue === true;
    const message = missing ? `${base.replace(/, got .*$/, "")} (required)` : hideValue ? base : `${base}, got ${describeValue(got)}`;
    return { path: joinPath(root, issue.path), message };
  });
}

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * Config strings become unit-file lines, Nix strings, YAML and command arguments: a control
 * character (a newline above all) would end a line or change what a program reads. Refused here,
 * in keys and values alike, so the message names the config path.
 */
function controlCharacterProblems(root: string, value: unknown, path: readonly string[]): ConfigProblem[] {
  // Almost always none: look without building paths first (it was ~8 ms for 200 hosts).
  if (path.length === 0 && !holdsControlCharacter(value)) return [];
  const problem = (text: string, at: readonly string[]) => {
    const code = text.match(CONTROL_CHARACTER)![0].charCodeAt(0);
    return { path: joinPath(root, at), message: `control character U+${code.toString(16).toUpperCase().padStart(4, "0")} is not allowed: values become unit-file lines, Nix strings and command arguments` };
  };
  if (typeof value === "string") return CONTROL_CHARACTER.test(value) ? [problem(value, path)] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => controlCharacterProblems(root, v, [...path, String(i)]));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => (CONTROL_CHARACTER.test(k) ? [problem(k, [...path, JSON.stringify(k)])] : controlCharacterProblems(root, v, [...path, k])));
  }
  return [];
}

/** True if a string in `value`, or a key of an object in it, holds a control character. */
function holdsControlCharacter(value: unknown): boolean {
  if (typeof value === "string") return CONTROL_CHARACTER.test(value);
  if (Array.isArray(value)) return value.some(holdsControlCharacter);
  if (value && typeof value === "object") {
    // Keys, then each value: no [key, value] pair per entry (this walks the whole stack file).
    const record = value as Record<string, unknown>;
    for (const k of Object.keys(record)) if (CONTROL_CHARACTER.test(k) || holdsControlCharacter(record[k])) return true;
  }
  return false;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.path.localeCompare(b.path) || a.message.localeCompare(b.message));
}

/**
 * Validates `homefleet:hosts` and `homefleet:stacks` together: schema first, then the rules that
 * span keys (a stack's host exists, fallbacks form no cycle, ports do not clash).
 */
export function parseFleetConfig(input: {
  hosts: unknown;
  stacks: unknown;
  monitoring?: unknown;
  review?: unknown;
  deploy?: unknown;
  promoteFrom?: unknown;
  promoteOverride?: unknown;
  /** Every `homefleet:*` key the stack sets (without the namespace); each must mean something. */
  configKeys?: readonly string[];
  /** Those of them that are Pulumi secrets; when given, a key that holds a secret must be one. */
  secretKeys?: readonly string[];
  /** Read by the Pulumi program, which deploys (unless homefleet:deploy.enabled is false) and so needs the SSH key; a render does not. */
  deploying?: boolean;
}): FleetConfig {
  const problems: ConfigProblem[] = [];
  const hostsRoot = `${CONFIG_NAMESPACE}:hosts`;
  const stacksRoot = `${CONFIG_NAMESPACE}:stacks`;
  if (input.hosts === undefined) problems.push({ path: hostsRoot, message: "missing: declare at least one host" });
  if (input.stacks === undefined) problems.push({ path: stacksRoot, message: "missing: declare at least one stack" });
  if (problems.length) {
    // A misspelt structured key (`homefleet:stack`) is often why one is missing: say so at once.
    for (const key of input.configKeys ?? []) {
      if (isSpecialKey(key) || input.secretKeys?.includes(key)) continue;
      const problem = unknownKeyProblem(key, [...STRUCTURED_KEYS, SSH_KEY]);
      if (problem.message.includes("did you mean")) problems.push(problem);
    }
    throw new ConfigError(sortProblems(problems));
  }

  const raw: Record<string, unknown> = { hosts: input.hosts, stacks: input.stacks, monitoring: input.monitoring, review: input.review, deploy: input.deploy, promoteFrom: input.promoteFrom, promoteOverride: input.promoteOverride };
  for (const [key, value] of Object.entries(raw)) problems.push(...controlCharacterProblems(ns(key), value, []));
  if (problems.length) throw new ConfigError(sortProblems(problems));

  const hosts = HostsSchema.safeParse(input.hosts);
  const stacks = StacksSchema.safeParse(input.stacks);
  const monitoring = input.monitoring === undefined ? undefined : MonitoringSchema.safeParse(input.monitoring);
  const review = ReviewSchema.safeParse(input.review ?? {});
  if (!review.success) problems.push(...zodProblems(`${CONFIG_NAMESPACE}:review`, input.review, review.error, ReviewSchema));
  const deploy = DeploySchema.safeParse(input.deploy ?? {});
  if (!deploy.success) problems.push(...zodProblems(`${CONFIG_NAMESPACE}:deploy`, input.deploy, deploy.error, DeploySchema));
  const promoteFrom = input.promoteFrom === undefined ? undefined : PromoteFromSchema.safeParse(input.promoteFrom);
  if (promoteFrom && !promoteFrom.success) problems.push(...zodProblems(`${CONFIG_NAMESPACE}:promoteFrom`, input.promoteFrom, promoteFrom.error, PromoteFromSchema));
  const promoteOverride = input.promoteOverride === undefined ? undefined : PromoteOverrideSchema.safeParse(input.promoteOverride);
  if (promoteOverride && !promoteOverride.success) problems.push(...zodProblems(`${CONFIG_NAMESPACE}:promoteOverride`, input.promoteOverride, promoteOverride.error, PromoteOverrideSchema));
  if (promoteOverride && !promoteFrom) problems.push({ path: `${CONFIG_NAMESPACE}:promoteOverride`, message: "only means something with homefleet:promoteFrom" });
  if (!hosts.success) problems.push(...zodProblems(hostsRoot, input.hosts, hosts.error, HostsSchema));
  if (!stacks.success) problems.push(...zodProblems(stacksRoot, input.stacks, stacks.error, StacksSchema));
  if (monitoring && !monitoring.success) problems.push(...zodProblems(`${CONFIG_NAMESPACE}:monitoring`, input.monitoring, monitoring.error, MonitoringSchema));
  if (!hosts.success || !stacks.success || (monitoring && !monitoring.success) || !review.success || !deploy.success || problems.length) throw new ConfigError(sortProblems(problems));

  const configKeys = input.configKeys ?? [];
  problems.push(...crossChecks(hosts.data, stacks.data));
  problems.push(...operationsChecks(hosts.data, monitoring?.data));
  problems.push(...jobChecks(hosts.data, stacks.data));
  problems.push(...volumeRepositoryChecks(hosts.data, stacks.data));
  problems.push(...monitoringChecks(hosts.data, stacks.data, monitoring?.data));
  problems.push(...configKeyChecks(secretConfigReferences(hosts.data, stacks.data, monitoring?.data), configKeys, input.secretKeys));
  if (input.deploying && deploy.data.enabled && !configKeys.includes(SSH_KEY)) {
    // Said here, with the other config problems and before anything runs, and with the key read
    // from stdin: Pulumi's own message for a missing key would put it on the command line.
    problems.push({ path: ns(SSH_KEY), message: `not set: deployments log in to every host with it (pulumi config set --secret ${ns(SSH_KEY)} < ~/.ssh/<the deploy key>)` });
  }
  if (problems.length) throw new ConfigError(sortProblems(problems));
  const promotion = promoteFrom?.success ? { from: promoteFrom.data, ...(promoteOverride?.success ? { override: promoteOverride.data } : {}) } : undefined;
  return { hosts: hosts.data, stacks: stacks.data, monitoring: monitoring?.data, review: review.data, deploy: deploy.data, ...(promotion ? { promotion } : {}), configKeys };
}

/** A problem at `where(index)` for each path of `paths` that `check` refuses, in order. */
function pathProblems(paths: readonly string[], check: (path: string) => string | undefined, where: (index: string) => string): ConfigProblem[] {
  return paths.flatMap((p, i) => {
    const bad = check(p);
    return bad ? [{ path: where(String(i)), message: bad }] : [];
  });
}

/** Rules for backups, certificates and monitoring that span keys. */
function operationsChecks(hosts: Record<string, HostConfig>, monitoring: MonitoringConfig | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [name, host] of Object.entries(hosts)) {
    const at = (...path: string[]) => joinPath(`${CONFIG_NAMESPACE}:hosts`, [name, ...path]);
    const backupDir = unsafeDataDirectory(host.backup.dir);
    if (backupDir) problems.push({ path: at("backup", "dir"), message: backupDir });
    problems.push(...pathProblems(host.backup.offsite?.paths ?? [], unsafeBackupPath, (i) => at("backup", "offsite", "paths", i)));
    problems.push(...repositoryChecks(host, at));
    for (const [cert, spec] of Object.entries(host.certificates)) {
      // Both issuers prove names by HTTP-01, which cannot prove a wildcard: the renewal script
      // would refuse it on every run.
      spec.domains.forEach((domain, i) => {
        if (domain.startsWith("*.")) problems.push({ path: at("certificates", cert, "domains", String(i)), message: "a wildcard cannot be issued here (HTTP-01 proves one name at a time): list the names" });
      });
      if (spec.issuer === "acme" && !spec.acme) problems.push({ path: at("certificates", cert, "acme"), message: "required for issuer acme: at least the account email" });
      if (spec.issuer === "step-ca" && !spec.stepCa) problems.push({ path: at("certificates", cert, "stepCa"), message: "required for issuer step-ca: the CA url and root certificate" });
      if (spec.issuer === "acme" && spec.stepCa) problems.push({ path: at("certificates", cert, "stepCa"), message: "only allowed with issuer step-ca" });
      if (spec.issuer === "step-ca" && spec.acme) problems.push({ path: at("certificates", cert, "acme"), message: "only allowed with issuer acme" });
    }
  }
  if (monitoring && !hosts[monitoring.prometheusHost]) {
    problems.push({ path: `${CONFIG_NAMESPACE}:monitoring.prometheusHost`, message: `unknown host "${monitoring.prometheusHost}" (hosts: ${Object.keys(hosts).sort().join(", ")})` });
  }
  const am = monitoring?.alertmanager;
  if (am) {
    const known = Object.keys(am.receivers).sort();
    for (const key of ["defaultReceiver", "heartbeatReceiver"] as const) {
      const name = am[key];
      if (name !== undefined && !am.receivers[name]) problems.push({ path: `${CONFIG_NAMESPACE}:monitoring.alertmanager.${key}`, message: `unknown receiver "${name}" (receivers: ${known.join(", ") || "none"})` });
    }
    if (am.heartbeatReceiver !== undefined && am.heartbeatReceiver === am.defaultReceiver) {
      problems.push({ path: `${CONFIG_NAMESPACE}:monitoring.alertmanager.heartbeatReceiver`, message: "must not be the default receiver: it would get the always-firing Watchdog as an alert" });
    }
  }
  return problems;
}

/** Why a path is no backup source (malformed, or the whole system or a kernel or runtime tree), or undefined. */
function unsafeBackupPath(p: string): string | undefined {
  const malformed = malformedPath(p);
  if (malformed) return malformed;
  if (p === "/" || ["/proc", "/sys", "/dev", "/run", "/tmp"].some((t) => p === t || p.startsWith(`${t}/`))) return `"${p}" is not data: name the directories that hold it`;
  return undefined;
}

/**
 * A host's restic repositories: paths that are data, mounts given whole, and one URL per
 * repository: two that shared a repository would share its snapshot group (host and tag), and
 * each one's forget would thin the other's snapshots by its own retention.
 */
function repositoryChecks(host: HostConfig, at: (...path: string[]) => string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const urls = new Map<string, string>();
  if (host.backup.offsite) urls.set(host.backup.offsite.repository, "backup.offsite");
  for (const [name, repo] of Object.entries(host.backup.repositories ?? {})) {
    const where = (...path: string[]) => at("backup", "repositories", name, ...path);
    problems.push(...pathProblems(repo.paths, unsafeBackupPath, (i) => where("paths", i)));
    problems.push(...pathProblems(repo.mounts, malformedPath, (i) => where("mounts", i)));
    // A repository on this host's disks is a directory homefleet creates and owns, like backup.dir.
    const local = localRepositoryPath(repo.repository);
    if (local) {
      const bad = /^\/[A-Za-z0-9._/-]*$/.test(local) ? unsafeDataDirectory(local) : `"${local}": a repository on this host's disks is a path of letters, digits and . _ / - only`;
      if (bad) problems.push({ path: where("repository"), message: bad });
    }
    const owner = urls.get(repo.repository);
    // The message names the other key, never the URL: a URL is not a secret, but it is not needed to find it.
    if (owner) problems.push({ path: where("repository"), message: `is also the repository of ${owner}: two jobs in one repository share its snapshot group, and each one's retention would thin the other's snapshots; give each its own repository` });
    else urls.set(repo.repository, `backup.repositories.${name}`);
  }
  return problems;
}

/**
 * A volume backed up by a repository (`volumes[].repository`): the repository is on the stack's
 * host, one of its paths holds the volume's source, and the volume is not also ephemeral.
 */
function volumeRepositoryChecks(hosts: Record<string, HostConfig>, stacks: Record<string, StackConfig>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [name, stack] of Object.entries(stacks)) {
    const host = hosts[stack.host];
    if (!host) continue;
    (stack.container?.volumes ?? []).forEach((v, i) => {
      if (v.repository === undefined) return;
      const where = joinPath(`${CONFIG_NAMESPACE}:stacks`, [name, "container", "volumes", String(i), "repository"]);
      const repo = host.backup.repositories?.[v.repository];
      if (v.ephemeral) problems.push({ path: where, message: "a volume is either ephemeral (not backed up) or backed up by a repository, not both" });
      else if (!repo) problems.push({ path: where, message: `unknown repository "${v.repository}" (repositories of host ${stack.host}: ${Object.keys(host.backup.repositories ?? {}).sort().join(", ") || "none"})` });
      else if (!repo.paths.some((p) => pathWithin(v.source, p))) problems.push({ path: where, message: `repository ${v.repository} does not back up ${v.source}: add it (or a directory above it) to homefleet:hosts.${stack.host}.backup.repositories.${v.repository}.paths` });
    });
  }
  return problems;
}

/** Scheduled jobs: a program for the host's flavour, names of their own, paths a job may write. */
function jobChecks(hosts: Record<string, HostConfig>, stacks: Record<string, StackConfig>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [hostName, host] of Object.entries(hosts)) {
    const jobs = Object.entries(host.jobs);
    // Only for a host with jobs: filtering every stack for every host is quadratic in a large fleet.
    const onHost = jobs.length ? Object.keys(stacks).filter((s) => stacks[s].host === hostName) : [];
    for (const [name, job] of jobs) {
      const at = (...path: string[]) => joinPath(`${CONFIG_NAMESPACE}:hosts`, [hostName, "jobs", name, ...path]);
      const reserved = reservedJobName(name, onHost);
      if (reserved) problems.push({ path: at(), message: reserved });
      if (host.os === "systemd" && !job.program.debian) problems.push({ path: at("program", "debian"), message: "required on a plain systemd host (os: systemd): the program's absolute path, such as /usr/sbin/fstrim" });
      if (host.os === "nixos" && !job.program.nix) problems.push({ path: at("program", "nix"), message: "required on a NixOS host: the nixpkgs package and its binary, such as { pkg: util-linux, bin: fstrim }" });
      problems.push(...pathProblems(job.writePaths, unsafeWritePath, (i) => at("writePaths", i)));
      problems.push(...pathProblems(job.mounts, malformedPath, (i) => at("mounts", i)));
      if ("PATH" in job.environment) problems.push({ path: at("environment", "PATH"), message: "homefleet sets PATH for every unit: give the program's absolute path instead" });
      for (const env of Object.keys(job.secretEnvironment)) {
        if (env in job.environment) problems.push({ path: at("secretEnvironment", env), message: `${env} is also in environment: give it once` });
      }
    }
  }
  return problems;
}

/**
 * A stack's database and role must not be PostgreSQL's own: `postgres` would make the stack a
 * superuser, `all` or `replication` would mean every database or the replication protocol. A name
 * derived from the stack name is reported at the stack, with the key that overrides it.
 */
function databaseNameChecks(stack: string, database: NonNullable<StackConfig["database"]>, at: (stack: string, ...path: string[]) => string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { name, user } = databaseNames(stack, database);
  const derived = (key: "name" | "user") => `; the stack's name is its database ${key === "name" ? "name" : "role"} unless database.${key} names another`;
  const badName = reservedDatabaseName(name);
  if (badName) problems.push(database.name ? { path: at(stack, "database", "name"), message: badName } : { path: at(stack), message: `database ${badName}${derived("name")}` });
  const badUser = reservedRoleName(user);
  if (badUser) {
    if (database.user) problems.push({ path: at(stack, "database", "user"), message: badUser });
    else if (database.name) problems.push({ path: at(stack, "database", "name"), message: `role ${badUser}; the role takes the database name unless database.user names another` });
    else problems.push({ path: at(stack), message: `role ${badUser}${derived("user")}` });
  }
  return problems;
}

/**
 * A native stack (`native:` instead of `container:`): the service must exist on the host's
 * flavour, its options are NixOS module options, its database is reached the way the catalogue
 * says, and the container-only keys (network, links, kind litellm) have no meaning for it.
 */
function nativeChecks(
  name: string,
  stack: StackConfig,
  host: HostConfig,
  at: (stack: string, ...path: string[]) => string,
  claim: (host: string, port: number, owner: string, protocol?: "tcp" | "udp") => void,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const native = stack.native!;
  const entry = NATIVE_CATALOGUE[native.service];
  if (stack.kind !== "container") problems.push({ path: at(name, "kind"), message: `kind ${stack.kind} runs a container; a native service takes no kind` });
  if (stack.litellm) problems.push({ path: at(name, "litellm"), message: "only allowed with kind: litellm, which runs a container" });
  if (stack.links.length) problems.push({ path: at(name, "links"), message: "links join container bridges; a native service runs on the host's network and reaches other stacks at their published addresses" });
  const net = stack.network;
  if (net.mode !== "bridge" || net.name !== undefined || net.subnet !== undefined || net.interface !== undefined) {
    problems.push({ path: at(name, "network"), message: "a native service runs on the host's network: network applies to containers only" });
  }
  if (host.os === "systemd" && !entry.debian) {
    problems.push({ path: at(name, "native", "service"), message: `${entry.title} cannot run natively on host ${stack.host} (os: systemd): ${entry.notOnDebian}; run it as a container stack instead, or on a NixOS host` });
  }
  if (host.os === "systemd" && Object.keys(native.options).length) {
    problems.push({ path: at(name, "native", "options"), message: `options are NixOS module options (services.${entry.nixos.module.slice(1).join(".")}); on a Debian host the package keeps its own configuration files and homefleet writes only a drop-in for its units` });
  }
  const flavourAddress = host.os === "nixos" ? (entry.nixos.addressOption ?? entry.nixos.listenOption) : undefined;
  const portSettable = host.os === "nixos" && !!(entry.nixos.portOption ?? entry.nixos.listenOption);
  if (native.address !== undefined && !flavourAddress) problems.push({ path: at(name, "native", "address"), message: `${entry.title} has no listen-address setting homefleet can write on this host: leave address out (it listens on its own default)` });
  if (native.port !== undefined && !entry.port) problems.push({ path: at(name, "native", "port"), message: `${entry.title} serves no port homefleet knows` });
  if (native.port !== undefined && entry.port && native.port !== entry.port.number && !portSettable) {
    problems.push({ path: at(name, "native", "port"), message: `${entry.title} has no port setting homefleet can write on this host: it listens on ${entry.port.number}` });
  }
  if (native.healthCheck && (!entry.port || entry.port.protocol !== "tcp" || entry.noHttpProbe)) {
    problems.push({ path: at(name, "native", "healthCheck"), message: `${entry.noHttpProbe ?? `${entry.title} serves no HTTP port`}: the deployment checks that its unit is active` });
  }
  // homefleet sets these from the keys that say the same thing; a second definition would conflict.
  const owned: [readonly string[] | undefined, string][] = [
    [["enable"], "homefleet enables the service"],
    [host.os === "nixos" ? entry.nixos.portOption : undefined, "set native.port instead"],
    [host.os === "nixos" ? entry.nixos.addressOption : undefined, "set native.address instead"],
    [host.os === "nixos" ? entry.nixos.listenOption : undefined, "set native.address and native.port instead"],
  ];
  for (const [path, why] of owned) {
    if (!path) continue;
    if (optionAt(native.options, path) !== undefined) problems.push({ path: at(name, "native", "options", ...path), message: why });
  }
  problems.push(...pathProblems(native.dataDirs, malformedPath, (i) => at(name, "native", "dataDirs", i)));
  problems.push(...pathProblems(native.mounts, malformedPath, (i) => at(name, "native", "mounts", i)));
  if (stack.database) {
    if (!entry.database) {
      problems.push({ path: at(name, "database"), message: `homefleet does not know how ${entry.title} connects to PostgreSQL; give its connection in native.options and leave database out, or run it as a container` });
    } else {
      problems.push(...databaseNameChecks(name, stack.database, at));
      if (entry.database.via === "peer" && stack.database.user !== undefined && stack.database.user !== entry.nixos.user) {
        problems.push({ path: at(name, "database", "user"), message: `${entry.title} connects over PostgreSQL's socket as its system user ${entry.nixos.user}, by peer authentication: the role must be ${entry.nixos.user} (leave user out)` });
      }
    }
  }
  if (stack.cache) claim(stack.host, stack.cache.port, at(name, "cache", "port"));
  const port = native.port ?? entry.port?.number;
  if (port !== undefined) claim(stack.host, port, at(name, "native", "port"), entry.port?.protocol ?? "tcp");
  return problems;
}

/** An IPv4 address as an integer. */
function ipv4Value(address: string): number {
  return address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** First and last address of an IPv4 CIDR, as integers. */
function cidrRange(cidr: string): [number, number] {
  const [base, bits] = cidr.split("/");
  const address = ipv4Value(base);
  const size = 2 ** (32 - Number(bits));
  const start = address - (address % size);
  return [start, start + size - 1];
}

function crossChecks(hosts: Record<string, HostConfig>, stacks: Record<string, StackConfig>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (stack: string, ...path: string[]) => joinPath(`${CONFIG_NAMESPACE}:stacks`, [stack, ...path]);
  if (Object.keys(hosts).length === 0) problems.push({ path: `${CONFIG_NAMESPACE}:hosts`, message: "declare at least one host" });

  // A TCP and a UDP socket on the same port do not clash: the claim is per protocol.
  const listeners = new Map<string, string>();
  const claim = (host: string, port: number, owner: string, protocol: "tcp" | "udp" = "tcp") => {
    const key = `${host}:${protocol}:${port}`;
    const previous = listeners.get(key);
    if (previous) problems.push({ path: owner, message: `${protocol === "udp" ? "UDP " : ""}port ${port} on host ${host} is already used by ${previous}` });
    else listeners.set(key, owner);
  };
  // Two hosts at one SSH address and port are one machine: each deployment would replace the
  // other's generation, and with it every stack the other put there.
  const endpoints = new Map<string, string>();
  for (const [name, host] of Object.entries(hosts)) {
    const endpoint = `${host.address.toLowerCase()}:${host.port}`;
    const first = endpoints.get(endpoint);
    if (first) problems.push({ path: `${CONFIG_NAMESPACE}:hosts.${name}.address`, message: `host ${first} is at ${host.address} port ${host.port} too: two hosts there are one machine, and each deployment would replace what the other deployed; declare the machine once` });
    else endpoints.set(endpoint, name);
  }
  // The port homefleet reaches the host's SSH server on: a service bound to it first would lock the
  // deployer out, or fail to start beside sshd. (Behind a port forward the server's own port may
  // differ; a stack can always take another.)
  for (const [name, host] of Object.entries(hosts)) claim(name, host.port, `${CONFIG_NAMESPACE}:hosts.${name}.port (the SSH server homefleet deploys through)`);
  for (const [name, host] of Object.entries(hosts)) claim(name, host.postgresql.port, `${CONFIG_NAMESPACE}:hosts.${name}.postgresql.port`);
  const proxyPath = (host: string) => `${CONFIG_NAMESPACE}:hosts.${host}.proxy`;
  for (const [name, host] of Object.entries(hosts)) {
    if (!host.proxy) continue;
    claim(name, 80, proxyPath(name));
    claim(name, 443, proxyPath(name));
  }

  // Per host: a subnet can only overlap another on its own host.
  const subnets = new Map<string, { stack: string; range: [number, number]; cidr: string }[]>();
  // Two stacks on one host with one podman network or bridge would share it, and write the same files.
  const networks = new Map<string, string>();
  const claimName = (host: string, kind: "network" | "bridge", value: string, stack: string, key: "name" | "interface", explicit: boolean) => {
    const id = `${host}/${kind}/${value}`;
    const owner = networks.get(id);
    const path = explicit ? at(stack, "network", key) : at(stack);
    if (owner) problems.push({ path, message: `${kind} "${value}" on host ${host} is already stack ${owner}'s${explicit ? "" : ` (the stack's default network.${key})`}: name another` });
    else networks.set(id, stack);
  };
  for (const [name, stack] of Object.entries(stacks)) {
    const host = hosts[stack.host];
    if (!host) {
      const known = Object.keys(hosts).sort().join(", ");
      problems.push({ path: at(name, "host"), message: `unknown host "${stack.host}" (hosts: ${known || "none"})` });
      continue;
    }
    if (!stack.container === !stack.native) {
      problems.push({ path: at(name), message: stack.container ? "give either container or native, not both" : "expected container (a podman container) or native (a service of the host's distribution)" });
      continue;
    }
    if (stack.native) {
      problems.push(...nativeChecks(name, stack, host, at, claim));
      continue;
    }
    const container = stack.container!;
    const net = networkNames(name, stack.network);
    claimName(stack.host, "network", net.name, name, "name", stack.network.name !== undefined);
    if (stack.network.mode === "bridge") {
      claimName(stack.host, "bridge", net.interface, name, "interface", stack.network.interface !== undefined);
      if (!stack.network.subnet) problems.push({ path: at(name, "network", "subnet"), message: "required for a bridge network, e.g. 10.89.0.0/24" });
      else {
        // Two bridges with overlapping subnets on one host would fight over routes.
        const range = cidrRange(stack.network.subnet);
        const onHost = subnets.get(stack.host) ?? [];
        const other = onHost.find((s) => s.range[0] <= range[1] && range[0] <= s.range[1]);
        if (other) problems.push({ path: at(name, "network", "subnet"), message: `subnet overlaps ${other.cidr} of stack ${other.stack} on host ${stack.host}` });
        // A bridge on the host's own network takes the route to it, and homefleet's SSH connection with it.
        const own = IPV4_ADDRESS.test(host.address) ? ipv4Value(host.address) : undefined;
        if (own !== undefined && range[0] <= own && own <= range[1]) {
          problems.push({
            path: at(name, "network", "subnet"),
            message: `subnet ${stack.network.subnet} holds the host's own address ${host.address} (${CONFIG_NAMESPACE}:hosts.${stack.host}.address): the bridge would take the route to the host's network, and the SSH connection homefleet deploys through; choose a range the host's network does not use, such as 10.89.0.0/24`,
          });
        }
        onHost.push({ stack: name, range, cidr: stack.network.subnet });
        subnets.set(stack.host, onHost);
      }
    }
    if (stack.kind === "litellm" && !stack.litellm) problems.push({ path: at(name, "litellm"), message: "required for kind litellm: declare at least the model list" });
    if (stack.kind !== "litellm" && stack.litellm) problems.push({ path: at(name, "litellm"), message: `only allowed with kind: litellm (kind is ${stack.kind})` });
    if (stack.kind === "container" && container.port === undefined) problems.push({ path: at(name, "container", "port"), message: "required for kind container: the port the service listens on" });
    if (stack.kind === "container" && !container.healthCheck) problems.push({ path: at(name, "container", "healthCheck"), message: "required for kind container: the HTTP path that answers when the service is healthy, as {path: /health}" });
    const lastSegment = container.image.split("/").pop() ?? "";
    if (/:latest$/.test(container.image) || !/[:@]/.test(lastSegment)) {
      problems.push({ path: at(name, "container", "image"), message: `pin the image by tag or digest, not "${container.image}"` });
    }
    for (const [env, ref] of Object.entries(container.secretEnvironment)) {
      const where = at(name, "container", "secretEnvironment", env);
      if (ref.startsWith("database.") && !stack.database) problems.push({ path: where, message: `refers to ${ref} but the stack has no database` });
      if (ref.startsWith("cache.") && !stack.cache) problems.push({ path: where, message: `refers to ${ref} but the stack has no cache` });
      if (ref === "litellm.masterKey" && stack.kind !== "litellm") problems.push({ path: where, message: "litellm.masterKey exists only for kind: litellm" });
      if (env in container.environment) problems.push({ path: where, message: `${env} is also set in container.environment` });
    }
    if (stack.database) problems.push(...databaseNameChecks(name, stack.database, at));
    container.volumes.forEach((v, i) => {
      const unsafe = unsafeDataDirectory(v.source);
      if (unsafe) problems.push({ path: at(name, "container", "volumes", String(i), "source"), message: unsafe });
    });
    if (stack.cache) claim(stack.host, stack.cache.port, at(name, "cache", "port"));
    const published = container.publish?.hostPort ?? container.port ?? (stack.kind === "litellm" ? 4000 : undefined);
    if (published !== undefined) claim(stack.host, published, at(name, "container", "publish", "hostPort"));
    container.ports.forEach((p, i) => {
      const where = at(name, "container", "ports", String(i));
      // With the host's network the container's sockets are the host's: podman publishes nothing.
      if (stack.network.mode === "host") problems.push({ path: where, message: "network.mode host publishes no ports (the container listens on the host's ports directly): use a bridge network" });
      else claim(stack.host, p.hostPort ?? p.container, p.hostPort === undefined ? where : `${where}.hostPort`, p.protocol);
    });
    if (stack.litellm) {
      for (const p of checkLiteLLMFallbacks(stack.litellm)) problems.push({ path: at(name, "litellm", ...p.path), message: p.message });
      if (stack.litellm.responseCache && !stack.cache) problems.push({ path: at(name, "litellm", "responseCache"), message: "responses are cached in the stack's Redis, and the stack has none: add cache" });
      if (stack.network.mode === "bridge") {
        stack.litellm.models.forEach((m, i) => {
          const loopback = m.apiBase ? loopbackHostOf(m.apiBase) : undefined;
          if (!loopback) return;
          const gateway = stack.network.subnet ? `the bridge gateway ${bridgeGateway(stack.network.subnet)}` : "the bridge gateway";
          problems.push({
            path: at(name, "litellm", "models", String(i), "apiBase"),
            message: `${loopback} inside the container is the container itself, never the host: reach a provider on the host at ${gateway} (the provider must listen there) or at host.containers.internal`,
          });
        });
      }
    }
  }
  problems.push(...linkChecks(stacks));
  // lego's HTTP-01 responder listens on its port during each renewal: a service there makes every renewal fail.
  for (const [hostName, host] of Object.entries(hosts)) {
    for (const [cert, spec] of Object.entries(host.certificates)) {
      const [block, challenge] = spec.acme ? ["acme", spec.acme] : spec.stepCa ? ["stepCa", spec.stepCa] : [];
      if (!challenge) continue;
      const owner = listeners.get(`${hostName}:tcp:${challenge.httpPort}`);
      const forwarded = owner === proxyPath(hostName) ? "; the proxy forwards /.well-known/acme-challenge/ to the responder: give it another port, such as 8402" : "";
      if (owner) problems.push({ path: `${CONFIG_NAMESPACE}:hosts.${hostName}.certificates.${cert}.${block}.httpPort`, message: `port ${challenge.httpPort} on host ${hostName} is already used by ${owner}: the HTTP-01 responder could not listen during renewal${forwarded}` });
    }
  }
  problems.push(...proxyProblems(hosts, stacks));
  return problems;
}

/** A virtual host's certificate and upstream must exist on its own host; what nginx needs of the certificate. */
function proxyProblems(hosts: Readonly<Record<string, HostConfig>>, stacks: Readonly<Record<string, StackConfig>>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [hostName, host] of Object.entries(hosts)) {
    if (host.proxy) {
      // The proxy routes a name's challenges to one responder port: every certificate with that name must use it.
      const portOf = new Map<string, { port: number; cert: string }>();
      for (const [cert, spec] of Object.entries(host.certificates)) {
        const port = (spec.acme ?? spec.stepCa)?.httpPort;
        if (port === undefined) continue;
        for (const d of spec.domains) {
          const other = portOf.get(d);
          if (other && other.port !== port) problems.push({ path: `${CONFIG_NAMESPACE}:hosts.${hostName}.certificates.${cert}`, message: `certificate ${other.cert} also names ${d} and proves it on port ${other.port}, this one on ${port}: behind the proxy a name's challenges go to one port, so give both the same httpPort` });
          else portOf.set(d, { port, cert });
        }
      }
    }
    for (const [vhost, v] of Object.entries(host.proxy?.vhosts ?? {})) {
      const path = `${CONFIG_NAMESPACE}:hosts.${hostName}.proxy.vhosts.${vhost}`;
      const cert = host.certificates[v.certificate];
      if (!cert) {
        problems.push({ path: `${path}.certificate`, message: `unknown certificate "${v.certificate}" (certificates of host ${hostName}: ${Object.keys(host.certificates).sort().join(", ") || "none"})` });
      } else {
        const certPath = `${CONFIG_NAMESPACE}:hosts.${hostName}.certificates.${v.certificate}`;
        if (cert.reloadUnit && cert.reloadUnit !== "nginx.service") problems.push({ path: `${certPath}.reloadUnit`, message: `the proxy serves this certificate (vhost ${vhost}): its renewal must reload nginx.service, not ${cert.reloadUnit}` });
        // NixOS runs nginx as the nginx user (Debian's master process reads the key as root).
        if (host.os === "nixos" && cert.group !== "nginx") problems.push({ path: `${certPath}.group`, message: `the proxy serves this certificate (vhost ${vhost}), and NixOS runs nginx as the nginx user: set group: nginx so it can read the key` });
      }
      if ("stack" in v.upstream) {
        const target = stacks[v.upstream.stack];
        if (!target) problems.push({ path: `${path}.upstream.stack`, message: `unknown stack "${v.upstream.stack}" (stacks: ${Object.keys(stacks).sort().join(", ") || "none"})` });
        else if (target.host !== hostName) problems.push({ path: `${path}.upstream.stack`, message: `stack ${v.upstream.stack} runs on host ${target.host}: a proxy forwards to the stacks of its own host (give url: to reach another host)` });
        else if (target.native && NATIVE_CATALOGUE[target.native.service].port?.protocol !== "tcp") problems.push({ path: `${path}.upstream.stack`, message: `stack ${v.upstream.stack} runs ${NATIVE_CATALOGUE[target.native.service].title}, which serves no HTTP port to forward to` });
      }
    }
  }
  return problems;
}

/**
 * `links`: a stack joins the bridge of another stack on its own host. Refused: an unknown stack,
 * itself, a stack on another host (a bridge exists on one host only), host networking on either
 * side (no bridge to join or to join from), the same link twice, variable names taken already,
 * and cycles (each container starts after the ones it links to: a cycle cannot start).
 */
function linkChecks(stacks: Record<string, StackConfig>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (stack: string, ...path: string[]) => joinPath(`${CONFIG_NAMESPACE}:stacks`, [stack, ...path]);
  const graph: Record<string, string[]> = {};
  for (const [name, stack] of Object.entries(stacks)) {
    const seen = new Set<string>();
    const taken = new Map<string, string>();
    for (const env of Object.keys(stack.container?.environment ?? {})) taken.set(env, "container.environment");
    for (const env of Object.keys(stack.container?.secretEnvironment ?? {})) taken.set(env, "container.secretEnvironment");
    stack.links.forEach((link, i) => {
      const where = at(name, "links", String(i), "stack");
      const target = stacks[link.stack];
      if (!target) {
        problems.push({ path: where, message: `unknown stack "${link.stack}" (stacks: ${Object.keys(stacks).filter((s) => s !== name).sort().join(", ") || "none"})` });
        return;
      }
      if (link.stack === name) return void problems.push({ path: where, message: "a stack cannot link to itself: its container reaches its own ports on localhost" });
      if (target.native) return void problems.push({ path: where, message: `stack ${link.stack} is a native service on the host, with no bridge to join: reach it at its address on the host (the bridge gateway from inside the container)` });
      if (target.host !== stack.host) {
        return void problems.push({ path: where, message: `stack ${link.stack} runs on host ${target.host}, this stack on ${stack.host}: a link joins a bridge, which exists on one host only; reach ${link.stack} at a published address instead` });
      }
      if (stack.network.mode === "host") return void problems.push({ path: where, message: "a container on the host's network cannot join another stack's bridge: use network.mode bridge" });
      if (target.network.mode === "host") return void problems.push({ path: where, message: `stack ${link.stack} runs on the host's network and has no bridge to join: reach it at its published address on the host` });
      if (seen.has(link.stack)) return void problems.push({ path: where, message: `stack ${link.stack} is linked twice` });
      seen.add(link.stack);
      (graph[name] ??= []).push(link.stack);
      const prefix = linkEnvPrefix(link);
      for (const env of [`${prefix}_HOST`, `${prefix}_PORT`]) {
        const owner = taken.get(env);
        if (owner) problems.push({ path: link.env ? at(name, "links", String(i), "env") : at(name, "links", String(i)), message: `${env} is also set by ${owner}${link.env ? "" : ": name another prefix with env"}` });
        else taken.set(env, `links.${i}`);
      }
    });
  }
  const cycle = findCycle(graph);
  if (cycle) problems.push({ path: at(cycle[0], "links"), message: `links form a cycle: ${cycle.join(" -> ")} (each container starts after the ones it links to)` });
  return problems;
}

/** The loopback host an http(s) URL names (127.0.0.0/8, ::1, localhost), if it does. */
function loopbackHostOf(url: string): string | undefined {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return undefined;
  }
  const bare = hostname.replace(/^\[|\]$/g, "");
  return /^127\.\d+\.\d+\.\d+$/.test(bare) || bare === "::1" || bare === "localhost" || bare.endsWith(".localhost") || bare === "0.0.0.0" ? hostname : undefined;
}


/** Top-level `homefleet:*` keys with a meaning of their own; any other key must be a secret some value refers to. */
const STRUCTURED_KEYS = ["hosts", "stacks", "monitoring", "review", "deploy", "promoteFrom", "promoteOverride"] as const;
/** The deploy key: always a secret. */
const SSH_KEY = "sshPrivateKey";

interface SecretReference {
  /** The config key, without the namespace. */
  readonly key: string;
  /** Where the config names it. */
  readonly path: string;
}

/** Every config key that the hosts and stacks read a secret value from, and where they name it. */
function secretConfigReferences(hosts: Record<string, HostConfig>, stacks: Record<string, StackConfig>, monitoring?: MonitoringConfig): SecretReference[] {
  const refs: SecretReference[] = [];
  for (const [name, receiver] of Object.entries(monitoring?.alertmanager?.receivers ?? {})) {
    const at = (...path: string[]) => joinPath(`${CONFIG_NAMESPACE}:monitoring.alertmanager.receivers`, [name, ...path]);
    if (receiver.webhook?.bearerTokenConfig) refs.push({ key: receiver.webhook.bearerTokenConfig, path: at("webhook", "bearerTokenConfig") });
    if (receiver.email?.passwordConfig) refs.push({ key: receiver.email.passwordConfig, path: at("email", "passwordConfig") });
  }
  const grafana = monitoring?.grafana;
  if (grafana) {
    refs.push({ key: grafana.adminPasswordConfig, path: `${CONFIG_NAMESPACE}:monitoring.grafana.adminPasswordConfig` });
    refs.push({ key: grafana.secretKeyConfig, path: `${CONFIG_NAMESPACE}:monitoring.grafana.secretKeyConfig` });
  }
  for (const [name, host] of Object.entries(hosts)) {
    const offsite = host.backup.offsite;
    const at = (...path: string[]) => joinPath(`${CONFIG_NAMESPACE}:hosts`, [name, "backup", "offsite", ...path]);
    if (offsite?.passwordConfig) refs.push({ key: offsite.passwordConfig, path: at("passwordConfig") });
    if (offsite?.environmentConfig) refs.push({ key: offsite.environmentConfig, path: at("environmentConfig") });
    for (const [repo, spec] of Object.entries(host.backup.repositories ?? {})) {
      const where = (key: string) => joinPath(`${CONFIG_NAMESPACE}:hosts`, [name, "backup", "repositories", repo, key]);
      refs.push({ key: spec.passwordConfig, path: where("passwordConfig") });
      if (spec.environmentConfig) refs.push({ key: spec.environmentConfig, path: where("environmentConfig") });
    }
    for (const [job, spec] of Object.entries(host.jobs)) {
      for (const [env, ref] of Object.entries(spec.secretEnvironment)) refs.push({ key: ref.slice("config:".length), path: joinPath(`${CONFIG_NAMESPACE}:hosts`, [name, "jobs", job, "secretEnvironment", env]) });
    }
  }
  for (const [name, stack] of Object.entries(stacks)) {
    const at = (...path: string[]) => joinPath(`${CONFIG_NAMESPACE}:stacks`, [name, ...path]);
    for (const [env, ref] of Object.entries(stack.container?.secretEnvironment ?? {})) {
      if (ref.startsWith("config:")) refs.push({ key: ref.slice("config:".length), path: at("container", "secretEnvironment", env) });
    }
    stack.litellm?.models.forEach((m, i) => {
      if (m.apiKeyConfig) refs.push({ key: m.apiKeyConfig, path: at("litellm", "models", String(i), "apiKeyConfig") });
    });
  }
  return refs;
}

function isSpecialKey(key: string): boolean {
  return (STRUCTURED_KEYS as readonly string[]).includes(key) || key === SSH_KEY;
}

/** An unknown `homefleet:*` key, with the nearest known one when it looks like a typo of it. */
function unknownKeyProblem(key: string, known: readonly string[]): ConfigProblem {
  const guess = closest(key, [...known]);
  const hint = distance(key, guess) <= Math.max(2, Math.floor(key.length / 4)) ? `; did you mean ${ns(guess)}?` : "";
  return { path: ns(key), message: `unknown key${hint} (homefleet reads ${STRUCTURED_KEYS.map(ns).join(", ")}, ${ns(SSH_KEY)} and the secrets the config refers to)` };
}

/**
 * The stack's `homefleet:*` keys against what the config means: every secret it refers to is set,
 * and set as a Pulumi secret; no key is unknown (a typo such as `promotFrom` would silently turn
 * the promotion gate off).
 */
function configKeyChecks(refs: readonly SecretReference[], configKeys: readonly string[], secretKeys: readonly string[] | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const setSecret = (key: string) => `pulumi config set --secret ${ns(key)} < FILE`;
  for (const ref of refs) {
    if (!configKeys.includes(ref.key)) problems.push({ path: ref.path, message: `config key ${ns(ref.key)} is not set (${setSecret(ref.key)})` });
  }
  const secretValued = new Set([SSH_KEY, ...refs.map((r) => r.key)]);
  const known = [...STRUCTURED_KEYS, ...secretValued];
  for (const key of configKeys) {
    if (!known.includes(key)) problems.push(unknownKeyProblem(key, known));
    else if (secretKeys && secretValued.has(key) && !secretKeys.includes(key)) {
      problems.push({ path: ns(key), message: `holds a secret but is stored in plain text: set it again with ${setSecret(key)}` });
    }
  }
  return problems;
}

/**
 * The line and column (1-based) of the key a config path ends at, or of the nearest ancestor the
 * file has (a missing key's problem points at the object that lacks it). Map keys may contain
 * dots (a model named `gpt-4.1`): the longest key matching the next segments wins.
 */
function locate(doc: Document, lines: LineCounter, file: string, path: string): ConfigProblem["location"] {
  const segments = path.split(".").map((s) => (s.startsWith('"') ? (JSON.parse(s) as string) : s));
  const root = isMap(doc.contents) ? doc.contents.items.find((p) => isScalar(p.key) && p.key.value === "config") : undefined;
  let node: unknown = root?.value;
  let offset = (root?.key as Scalar | undefined)?.range?.[0];
  for (let i = 0; i < segments.length && node; ) {
    let next: unknown;
    if (isMap(node)) {
      for (let k = segments.length - i; k >= 1 && !next; k--) {
        const key = segments.slice(i, i + k).join(".");
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
        if (pair) {
          offset = (pair.key as Scalar).range?.[0];
          next = pair.value ?? undefined;
          i += k;
        }
      }
    } else if (isSeq(node) && /^\d+$/.test(segments[i])) {
      const item = node.items[Number(segments[i])] as { range?: [number, number, number] } | undefined;
      if (item) {
        offset = item.range?.[0];
        next = item;
        i += 1;
      }
    }
    node = next;
  }
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { file, line, column: col };
}

/**
 * Reads a Pulumi stack file (`Pulumi.<stack>.yaml`) the way `pulumi config` stores it; problems carry their file, line and column.
 *
 * A file the fast reader takes (config/stackYaml.ts) and that validates is done without `yaml`'s
 * document; any other file, and any file with a config problem, is read with `yaml`'s
 * parseDocument as the only reader was before, so its errors and their locations are the same.
 */
export function loadStackFile(file: string): FleetConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([{ path: file, message: `cannot read stack file: ${(err as Error).message}` }]);
  }
  const fast = fastStackYaml(text);
  if (fast) {
    try {
      return parseStackConfig(fast.value);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  let doc: unknown;
  const lines = new LineCounter();
  let parsed: Document;
  try {
    parsed = parseDocument(text, { lineCounter: lines });
    if (parsed.errors.length) throw parsed.errors[0];
    doc = parsed.toJS();
  } catch (err) {
    throw new ConfigError([{ path: file, message: `cannot read stack file: ${(err as Error).message}` }]);
  }
  try {
    return parseStackConfig(doc);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      err.problems.map((p) => {
        const location = locate(parsed, lines, file, p.path);
        return location ? { ...p, location } : p;
      }),
    );
  }
}

function parseStackConfig(doc: unknown): FleetConfig {
  const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  const prefix = `${CONFIG_NAMESPACE}:`;
  const configKeys = Object.keys(config)
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  // `pulumi config set --secret` stores `{secure: <ciphertext>}`.
  const secretKeys = configKeys.filter((k) => { const v = config[prefix + k]; return typeof v === "object" && v !== null && "secure" in v; });
  return parseFleetConfig({ hosts: config[`${prefix}hosts`], stacks: config[`${prefix}stacks`], monitoring: config[`${prefix}monitoring`], review: config[`${prefix}review`], deploy: config[`${prefix}deploy`], promoteFrom: config[`${prefix}promoteFrom`], promoteOverride: config[`${prefix}promoteOverride`], configKeys, secretKeys });
}
