/**
 * The reviews of seeds 000 and 001, done by a machine over the whole fleet model on every
 * preview: timers, dependencies, ports, coverage, security and LiteLLM settings.
 */
import type { FleetRender, HostBundle } from "../bundle/hostBundle";
import type { FleetConfig } from "../config/load";
import { findCycle } from "../config/litellmFallbacks";
import { pathWithin } from "../config/reserved";
import { isLoopback, LOCAL_BACKUP_KINDS } from "../model/operations";
import { units as unitNames } from "../model/paths";
import type { HostModel, HostUnitSpec, ListenerSpec } from "../model/specs";
import { clockTime, dayWindow, NOMINAL_RUN_MINUTES, RENEWAL_STAGGER_MINUTES, windowsOverlap } from "../model/schedule";
import type { TimerSpec } from "../model/specs";
import type { CheckId, Finding, Severity } from "./findings";
import type { RuleTestRun } from "./ruleTests";

export const DEFAULT_EXPOSURE_THRESHOLD = 2.0;

export interface ReviewInput {
  readonly config: FleetConfig;
  readonly render: FleetRender;
  /** Exposure scores per host, unit → score, where systemd-analyze could measure them. */
  readonly exposure?: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** The user's rule tests as promtool ran them (homefleet:monitoring.ruleTests), when they were run. */
  readonly ruleTests?: RuleTestRun;
}

type Emit = (check: CheckId, severity: Severity, path: string, message: string, why: string, fix: string) => void;

const hostPath = (host: string, ...rest: string[]) => [`homefleet:hosts.${host}`, ...rest].join(".");
const stackPath = (stack: string, ...rest: string[]) => [`homefleet:stacks.${stack}`, ...rest].join(".");

// ---------------------------------------------------------------------------------------------
// Timers

export interface TimerWindow {
  readonly timer: string;
  /** Minutes after midnight; undefined when the expression is not one homefleet can place on a day. */
  readonly start?: number;
  readonly end?: number;
  readonly weekday?: string;
  readonly spec: TimerSpec;
}

export function timerWindows(host: HostModel): TimerWindow[] {
  return host.operations.timers.map((t) => ({ timer: t.name, ...dayWindow(t.onCalendar, t.randomizedDelaySec), spec: t }));
}

/** The setting that places a timer, as the model gives it; the host for a timer without one. */
function timerPath(host: string, spec: TimerSpec): string {
  return spec.configPath ?? hostPath(host);
}

function checkTimers(host: HostModel, emit: Emit): void {
  const windows = timerWindows(host);
  for (const w of windows) {
    if (w.start === undefined) {
      // Config has checked the expression against systemd's grammar: it is valid, only not one fixed time a day.
      emit("timer-calendar", "info", timerPath(host.name, w.spec), `${w.timer}.timer runs on "${w.spec.onCalendar}", which is not on the day plan: its collisions with other jobs are not checked`, "Only jobs at one fixed time of day (daily, or on given weekdays) are laid out on the day plan; a job that runs several times a day or on given dates is not.", "Nothing, if that is what it should do; give it a fixed time (`*-*-* HH:MM:00`) to have it checked.");
    }
    if (!w.spec.persistent) {
      emit("timer-persistent", "warning", timerPath(host.name, w.spec), `${w.timer}.timer is not Persistent`, "A run missed while the host was off is skipped until the next day.", "Set Persistent=true.");
    }
  }
  const placed = windows.filter((w) => w.start !== undefined);
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      const a = placed[i];
      const b = placed[j];
      if (!windowsOverlap({ start: a.start!, end: a.end!, weekday: a.weekday }, { start: b.start!, end: b.end!, weekday: b.weekday })) continue;
      if (a.start === b.start) {
        emit("timer-collision", "warning", timerPath(host.name, b.spec), `${a.timer} and ${b.timer} start at the same time (${clockTime(a.start!)})`, "Jobs that start together compete for disk and CPU; staggered timers prevent I/O storms.", "Move one of them by at least the other's run time plus its randomized delay.");
      } else {
        emit("timer-collision", "warning", timerPath(host.name, b.spec), `${a.timer} (${clockTime(a.start!)}-${clockTime(a.end!)}) overlaps ${b.timer} (${clockTime(b.start!)}-${clockTime(b.end!)})`, `Windows count the randomized delay and ${NOMINAL_RUN_MINUTES} minutes of run time; overlapping jobs compete for I/O.`, "Stagger the schedule or lower RandomizedDelaySec.");
      }
    }
  }
  // The off-site copy, and a repository whose paths hold backup.dir, carry every local backup of
  // the night: dumps, snapshots and archives.
  const local = new Set(host.operations.backups.filter((b) => LOCAL_BACKUP_KINDS.has(b.kind)).map((b) => b.job));
  const dumps = placed.filter((w) => local.has(w.timer));
  for (const carrier of host.operations.backups.filter((b) => b.carriesLocalBackups)) {
    const w = placed.find((x) => x.timer === carrier.job);
    if (!w) continue;
    for (const d of dumps) {
      if (w.start! >= d.end!) continue;
      if (carrier.kind === "offsite") {
        emit("timer-order", "warning", hostPath(host.name, "backup", "offsite", "schedule"), `off-site backup starts at ${clockTime(w.start!)}, before ${d.timer} may have finished (${clockTime(d.end!)})`, "The off-site copy would carry yesterday's dump; After= only holds it back when the dump has already started.", "Start the off-site backup after the last dump window.");
      } else {
        emit("timer-order", "warning", `${timerPath(host.name, w.spec)}.schedule`, `repository ${carrier.repository} starts at ${clockTime(w.start!)}, before ${d.timer} may have finished (${clockTime(d.end!)}); its paths hold backup.dir`, "The repository would carry yesterday's dump; After= only holds it back when the dump has already started.", "Start it after the last dump window, or leave its schedule out and homefleet places it there.");
      }
    }
  }
  const renewalJobs = new Set(host.operations.certificates.map((c) => c.renewal.job));
  const renewals = placed.filter((w) => renewalJobs.has(w.timer)).sort((a, b) => a.start! - b.start!);
  for (let i = 1; i < renewals.length; i++) {
    const gap = renewals[i].start! - renewals[i - 1].start!;
    if (gap < RENEWAL_STAGGER_MINUTES) {
      emit("timer-renewal-stagger", "warning", hostPath(host.name, "certificates"), `${renewals[i - 1].timer} and ${renewals[i].timer} are ${gap} minutes apart`, "Renewals 30 minutes apart never hit a CA or port 80 at once.", "Keep certificate renewals at least 30 minutes apart.");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dependencies

/** Ordering edges of a unit graph: before → after. */
export function orderingEdges(units: readonly HostUnitSpec[]): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  const add = (from: string, to: string) => edges.set(from, [...(edges.get(from) ?? []), to]);
  for (const u of units) {
    for (const dep of u.after) add(dep, u.name);
    for (const dep of u.before) add(u.name, dep);
  }
  return edges;
}

export function checkUnitGraph(hostName: string, units: readonly HostUnitSpec[], emit: Emit): void {
  const edges = orderingEdges(units);
  const cycle = findCycle(Object.fromEntries(edges));
  if (cycle) {
    emit("unit-cycle", "error", hostPath(hostName), `ordering cycle: ${cycle.join(" -> ")}`, "systemd breaks an ordering cycle by dropping a job at boot, so a service silently does not start.", "Remove one After=/Before= of the cycle.");
  }
  for (const u of units) {
    const after = new Set(u.after);
    for (const dep of u.requires) {
      if (!after.has(dep)) {
        emit("requires-without-after", "warning", hostPath(hostName), `${u.name} requires ${dep} but is not ordered after it`, "Requires= without After= starts both at once: the dependent may run before what it needs is up.", `Add After=${dep}.`);
      }
    }
    if (u.secretFiles.length > 0 && !u.defaultDependencies && !after.has("local-fs.target")) {
      emit("secret-before-filesystem", "error", hostPath(hostName), `${u.name} reads secret files without waiting for local filesystems`, "A unit that reads secrets before local filesystems are mounted reads nothing, or the wrong file.", "Add After=local-fs.target (or keep DefaultDependencies).");
    }
    for (const name of Object.keys(u.environment)) {
      if (/(PASSWORD|SECRET|TOKEN|MASTER_KEY|API_KEY)/i.test(name)) {
        emit("secret-insecure", "error", hostPath(hostName), `${u.name} sets a secret-looking variable in Environment=: ${name}`, "Environment= is visible to every user through systemctl show and the D-Bus API.", "Pass secrets through LoadCredential= or a root-only EnvironmentFile=.");
      }
    }
  }
}

function checkContainerLimits(host: HostModel, emit: Emit): void {
  for (const s of host.stacks) {
    const u = host.units.find((x) => x.name === unitNames.container(s.name));
    if (u && (!u.memoryMax || !u.cpuQuota)) {
      emit("resource-limits", "warning", stackPath(s.name, "container"), `${u.name} has no MemoryMax or CPUQuota`, "An unbounded container can starve PostgreSQL and Redis on the same host.", "Set container.memoryMax and container.cpuQuota.");
    }
  }
}

/** A listener on a bridge gateway must start after the bridge's device (seed 001's podman0 race). */
function checkBindOrder(host: HostModel, emit: Emit): void {
  const bridges = new Map(host.stacks.filter((s) => s.network.mode === "bridge").map((s) => [s.network.gateway as string, s]));
  const byName = new Map(host.units.map((u) => [u.name, u]));
  for (const l of allListeners(host)) {
    const bridge = bridges.get(l.address);
    if (!bridge) continue;
    const owner = byName.get(l.owner);
    if (!owner) continue;
    const device = unitNames.device(bridge.network.interface as string);
    if (!owner.after.includes(device)) {
      emit("bind-before-device", "error", stackPath(bridge.name, "network"), `${l.owner} listens on ${l.address} but does not start after ${device}`, "A service that starts before its bridge exists listens on loopback only: PostgreSQL started 30 s before the bridge and never listened on it.", `Order ${l.owner} After= and Requires= ${device}.`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Ports

export function allListeners(host: HostModel): ListenerSpec[] {
  const listeners: ListenerSpec[] = [];
  const seen = new Set<string>();
  for (const s of host.stacks) {
    for (const l of s.listeners) {
      const key = `${l.address}:${l.protocol}:${l.port}:${l.owner}`;
      if (!seen.has(key)) listeners.push(l);
      seen.add(key);
    }
  }
  for (const e of host.operations.exporters) listeners.push({ address: e.address, port: e.port, protocol: "tcp", owner: e.kind === "redis" ? `homefleet-redis-exporter-${e.stack}.service` : `${e.kind} exporter` });
  if (host.prometheus) listeners.push({ address: host.prometheus.listenAddress, port: host.prometheus.port, protocol: "tcp", owner: "prometheus" });
  if (host.alertmanager) listeners.push({ address: host.alertmanager.listenAddress, port: host.alertmanager.port, protocol: "tcp", owner: host.alertmanager.unit });
  if (host.proxy) for (const port of [80, 443]) listeners.push({ address: host.proxy.listenAddress, port, protocol: "tcp", owner: host.proxy.unit });
  if (host.grafana) listeners.push({ address: host.grafana.listenAddress, port: host.grafana.port, protocol: "tcp", owner: host.grafana.unit });
  if (host.postgres) listeners.push({ address: "127.0.0.1", port: host.postgres.port, protocol: "tcp", owner: unitNames.postgres(host.os, host.postgres.version) });
  // Exporters homefleet does not run but scrapes (a container's own endpoint is among the stack's
  // listeners already). A target on a port one of the host's services holds is that service's own
  // metrics endpoint (Node-RED serves /metrics on its port), not a second listener.
  const held = (address: string, port: number) => listeners.some((l) => l.protocol === "tcp" && l.port === port && (l.address === address || l.address === "0.0.0.0" || address === "0.0.0.0"));
  for (const t of host.scrapeTargets ?? []) {
    if (t.stack) continue;
    const at = t.address.lastIndexOf(":");
    const address = t.address.slice(0, at);
    const port = Number(t.address.slice(at + 1));
    if (!held(address, port)) listeners.push({ address, port, protocol: "tcp", owner: `scrape target ${t.job}` });
  }
  return listeners;
}

function checkPorts(host: HostModel, emit: Emit): void {
  const listeners = allListeners(host);
  const overlaps = (a: string, b: string) => a === b || a === "0.0.0.0" || b === "0.0.0.0";
  for (let i = 0; i < listeners.length; i++) {
    for (let j = i + 1; j < listeners.length; j++) {
      const a = listeners[i];
      const b = listeners[j];
      // A TCP and a UDP socket on one port are two different sockets: no clash.
      if (a.port === b.port && a.protocol === b.protocol && overlaps(a.address, b.address) && a.owner !== b.owner) {
        const on = `${b.address}:${b.port}${b.protocol === "udp" ? "/udp" : ""}`;
        emit("port-clash", "error", hostPath(host.name), `${a.owner} and ${b.owner} both listen on ${on}`, "The second to start fails to bind and stays down.", "Move one of them to another port.");
      }
    }
  }
  for (const e of host.operations.exporters) {
    if (e.address === "0.0.0.0") {
      emit("internal-public", "warning", hostPath(host.name, "monitoring", "listenAddress"), `${e.kind} exporter listens on all addresses`, "Exporters reveal internals (databases, keys counts, versions) to anyone who can reach the host.", "Listen on 127.0.0.1 or on the monitoring network's address only.");
    }
  }
  for (const s of host.stacks) {
    if (!s.container) continue;
    if (s.network.mode === "bridge" && s.container.publishAddress !== "127.0.0.1") {
      emit("published-not-loopback", "warning", stackPath(s.name, "container", "publish", "address"), `${s.name} publishes port ${s.container.publishPort} on ${s.container.publishAddress}`, "Published ports belong on loopback, behind a reverse proxy; a published port bypasses the NixOS firewall.", "Publish on 127.0.0.1 and put a reverse proxy in front.");
    }
    // The further ports (container.ports) follow the main one in `published`, in config order.
    s.container.published.slice(1).forEach((p, i) => {
      if (p.address === "127.0.0.1") return;
      emit("published-not-loopback", "warning", stackPath(s.name, "container", "ports", String(i), "address"), `${s.name} publishes ${p.protocol.toUpperCase()} port ${p.hostPort} on ${p.address}`, "A published port bypasses the NixOS firewall and is open to every network the address is on.", "Publish on 127.0.0.1 unless the port must be reached from the network (a DNS or media server's UDP port), and accept the finding with its reason then.");
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Reverse proxy

/** Every name a virtual host answers to is in its certificate, and something on the host listens where it forwards. */
function checkProxy(host: HostModel, emit: Emit): void {
  const proxy = host.proxy;
  if (!proxy) return;
  const listeners = allListeners(host);
  for (const v of proxy.vhosts) {
    const path = hostPath(host.name, "proxy", "vhosts", v.name);
    const cert = host.operations.certificates.find((c) => c.name === v.certificate);
    const uncovered = v.domains.filter((d) => !cert?.domains.includes(d));
    if (uncovered.length) {
      emit("proxy-certificate", "error", path, `${v.name} answers to ${uncovered.join(", ")}, which certificate ${v.certificate} does not name`, "Clients refuse a certificate that does not name the host they asked for; the port-80 redirect does not cover the name either.", `Add ${uncovered.join(", ")} to homefleet:hosts.${host.name}.certificates.${v.certificate}.domains, or serve it from a certificate that names it.`);
    }
    const target = new URL(v.upstream);
    const port = Number(target.port || 80);
    const local = target.hostname === host.address || target.hostname.startsWith("127.") || target.hostname === "localhost";
    const served = listeners.some((l) => l.protocol === "tcp" && l.port === port && (l.address === target.hostname || l.address === "0.0.0.0" || (target.hostname === "localhost" && l.address.startsWith("127."))));
    if (local && !served) {
      emit("proxy-upstream", "warning", `${path}.upstream`, `${v.name} forwards to ${v.upstream}, where nothing homefleet runs on ${host.name} listens`, "A virtual host whose upstream is down answers every request with 502.", "Point upstream at a stack (upstream: {stack: NAME}) or at the port the service really listens on.");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Coverage

/** Database engines whose files must not be copied while they run, by image name or data directory. */
const DATABASE_IMAGES = ["postgres", "postgis", "timescaledb", "mysql", "mariadb", "mongo", "redis", "valkey", "influxdb", "elasticsearch", "opensearch", "qdrant", "clickhouse-server", "cockroach", "couchdb", "neo4j"];
const DATABASE_DIRS = ["/var/lib/postgresql", "/var/lib/mysql", "/var/lib/mongodb", "/data/db", "/var/lib/redis", "/var/lib/influxdb", "/qdrant/storage", "/usr/share/elasticsearch/data", "/bitnami"];

/**
 * Directories of a database image that do not hold its live files: where the engine writes its own
 * consistent snapshots or dumps (what should be archived), and the init scripts it only reads.
 */
const NOT_LIVE_DIRS = ["/qdrant/snapshots", "/docker-entrypoint-initdb.d", "/usr/share/elasticsearch/snapshots", "/backups"];

/** The database engine a writable volume belongs to, when the image or the mount target says so. */
function liveDatabase(image: string, target: string): string | undefined {
  const name = image.split("/").pop()!.split(/[:@]/)[0];
  const byImage = DATABASE_IMAGES.find((db) => name === db || name.startsWith(`${db}-`));
  if (byImage && NOT_LIVE_DIRS.some((d) => target === d || target.startsWith(`${d}/`))) return undefined;
  if (byImage) return byImage;
  const dir = DATABASE_DIRS.find((d) => target === d || target.startsWith(`${d}/`));
  return dir ? `database (${dir})` : undefined;
}

function checkCoverage(host: HostModel, monitored: boolean, alerts: ReadonlySet<string>, emit: Emit): void {
  const services = new Map(host.operations.services.map((s) => [s.name, s]));
  const hasAlert = (name: string) => monitored && alerts.has(name);
  const repositories = host.operations.backups.filter((b) => b.kind === "repository");
  for (const s of host.stacks) {
    if (s.database) {
      const dumps = host.operations.backups.find((b) => b.kind === "postgresql");
      const backup = dumps && services.get(dumps.job);
      if (!backup || !backup.execStart.some((e) => e.args[0] === s.database!.name)) {
        emit("backup-coverage", "error", stackPath(s.name, "database"), `database ${s.database.name} has no backup`, "A stateful service without a backup is a service you can lose.", "Keep the host's backup settings enabled.");
      } else if (!hasAlert("BackupStale")) {
        emit("backup-coverage", "warning", stackPath(s.name, "database"), `backups of ${s.database.name} have no freshness alert`, "A backup that silently stops is found on the day it is needed.", "Set homefleet:monitoring.prometheusHost so the BackupStale alert evaluates it.");
      }
    }
    if (s.cache) {
      const snapshot = host.operations.backups.find((b) => b.kind === "redis" && b.stack === s.name);
      if (!snapshot || !services.has(snapshot.job)) {
        emit("backup-coverage", "error", stackPath(s.name, "cache"), `Redis of ${s.name} has no backup`, "A stateful service without a backup is a service you can lose.", "Keep the host's backup settings enabled.");
      } else if (!hasAlert("BackupStale")) {
        emit("backup-coverage", "warning", stackPath(s.name, "cache"), `Redis backups of ${s.name} have no freshness alert`, "A backup that silently stops is found on the day it is needed.", "Set homefleet:monitoring.prometheusHost.");
      }
    }
    const container = s.container;
    container?.volumes.forEach((v, i) => {
      // Archived nightly and also in a repository's paths: the archive is a second copy in backup.dir.
      const carrier = !v.readOnly && !v.ephemeral && !v.repository ? repositories.find((r) => r.saves.some((p) => pathWithin(v.source, p))) : undefined;
      if (carrier) {
        emit("backup-coverage", "info", stackPath(s.name, "container", "volumes", String(i)), `${v.source} is archived nightly into backup.dir and is also backed up by restic repository ${carrier.repository}`, "A volume a repository already carries, archived again, fills backup.dir with a second copy of it every night.", `Set repository: ${carrier.repository} on the volume to leave it to the repository alone.`);
      }
      if (v.ephemeral || (v.readOnly && !v.repository)) return;
      const engine = liveDatabase(container.image, v.target);
      if (!engine) return;
      // A repository's restic reads the files while the container writes them, like the archive.
      const copied = v.repository ? `backed up by restic repository ${v.repository}` : "archived";
      emit("volume-live-database", "warning", stackPath(s.name, "container", "volumes", String(i)), `${v.source} holds ${engine} files, ${copied} while the container runs`, "A database's files copied while it writes are rarely a consistent snapshot: the restore may not start, or may lose the last writes.", `Keep the data in database: (PostgreSQL, dumped with pg_dump), or dump it with the database's own tool into another volume and mark this one ephemeral: true${v.repository ? ` (and leave its directory out of the repository's paths, or exclude it)` : ""}.`);
    });
    const probed = host.operations.probes.some((p) => p.stack === s.name);
    // A native service without an HTTP endpoint (Samba, Avahi, sanoid) is watched by its units' state.
    if (s.native && !s.native.health) {
      if (!hasAlert("HomefleetUnitFailed")) emit("monitoring-coverage", "warning", stackPath(s.name), `${s.name} (${s.native.title}) serves no HTTP health endpoint and no alert evaluates its units' state`, "Every service needs an exporter or a probe, and an alert, or its failure goes unnoticed.", "Set homefleet:monitoring.prometheusHost (the node exporter reports every unit's state).");
      continue;
    }
    if (!probed || !hasAlert("HealthEndpointFailing")) {
      emit("monitoring-coverage", "warning", stackPath(s.name), `${s.name} is ${probed ? "probed" : "not probed"} but no alert evaluates its health endpoint`, "Every service needs an exporter or a probe, and an alert, or its failure goes unnoticed.", "Set homefleet:monitoring.prometheusHost (and make this host's exporters reachable from it).");
    }
  }
  for (const c of host.operations.certificates) {
    if (!services.has(c.renewal.job) || !services.has(c.check.job)) {
      emit("certificate-coverage", "error", hostPath(host.name, "certificates", c.name), `certificate ${c.name} has no renewal or validation unit`, "A certificate nobody renews expires.", "Keep the certificate declared under the host.");
    } else if (!hasAlert("CertificateExpiringSoon")) {
      emit("certificate-coverage", "warning", hostPath(host.name, "certificates", c.name), `certificate ${c.name} has no expiry alert`, "Renewal can fail quietly for weeks; the expiry metric is the alarm.", "Set homefleet:monitoring.prometheusHost.");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Security and LiteLLM

function checkSecurity(bundle: HostBundle, exposure: ReadonlyMap<string, number> | undefined, threshold: number, emit: Emit): void {
  const host = bundle.host;
  for (const f of bundle.files) {
    const trustLine = f.content.split("\n").find((l) => !l.trim().startsWith("#") && /\btrust\s*$/.test(l.trim()));
    if (trustLine) emit("trust-authentication", "error", hostPath(host.name, "postgresql"), `${f.path} allows trust authentication: ${trustLine.trim()}`, "With trust, any local process logs in as any PostgreSQL user.", "Use scram-sha-256 (homefleet's default).");
  }
  for (const s of host.stacks) {
    if (s.network.mode === "host") emit("host-network", "warning", stackPath(s.name, "network", "mode"), `${s.name} runs on the host's network`, "--network=host breaks container isolation; a compromised container reaches every host port.", "Use mode: bridge with a subnet.");
  }
  const secretPaths = [...host.secretFiles, ...host.stacks.flatMap((s) => s.secretFiles)].map((s) => s.path);
  for (const u of host.units) {
    // Secret files reach a unit as credentials or environment files (u.secretFiles); never as an argument or variable.
    const handedOver = [...u.arguments.map((v) => ({ v, where: "an argument" })), ...Object.entries(u.environment).map(([k, v]) => ({ v, where: `Environment=${k}` }))];
    for (const { v, where } of handedOver) {
      const leaked = secretPaths.find((p) => v.includes(p));
      if (leaked) {
        emit("secret-insecure", "error", hostPath(host.name), `${u.name} names the secret file ${leaked} in ${where}`, "A secret handed over as an argument or variable shows up in the process list and the journal.", "Use LoadCredential= or a root-only EnvironmentFile=.");
      }
    }
  }
  if (exposure) {
    for (const [unit, score] of exposure) {
      if (!/^podman-/.test(unit) && score > threshold) {
        emit("exposure", "warning", hostPath(host.name), `${unit} scores ${score.toFixed(1)} on systemd-analyze security (limit ${threshold.toFixed(1)})`, "homefleet's hardening preset keeps every unit that does not run podman at 2.0 or less.", "Restore the preset's settings for this unit.");
      }
    }
  }
}

function checkLiteLLM(host: HostModel, emit: Emit): void {
  for (const s of host.stacks) {
    const doc = s.litellmConfig?.document as
      | { model_list?: { model_name: string; litellm_params: { timeout?: number } }[]; litellm_settings?: { request_timeout?: number; fallbacks?: Record<string, string[]>[]; context_window_fallbacks?: Record<string, string[]>[] }; router_settings?: { timeout?: number } }
      | undefined;
    if (!doc) continue;
    const served = new Set((doc.model_list ?? []).map((m) => m.model_name));
    for (const field of ["fallbacks", "context_window_fallbacks"] as const) {
      const chains: Record<string, string[]> = {};
      for (const entry of doc.litellm_settings?.[field] ?? []) Object.assign(chains, entry);
      for (const [from, targets] of Object.entries(chains)) {
        for (const to of [from, ...targets]) {
          if (!served.has(to)) emit("litellm-fallback", "error", stackPath(s.name, "litellm", "fallbacks"), `${field} of ${s.name} names ${to}, which the proxy does not serve`, "Chains pointing at a disabled provider fail exactly when they are needed.", "Point fallbacks only at enabled models.");
        }
      }
      const cycle = findCycle(chains);
      if (cycle) emit("litellm-fallback", "error", stackPath(s.name, "litellm", "fallbacks"), `${field} of ${s.name} cycle: ${cycle.join(" -> ")}`, "A cycle retries the same failing models in a loop.", "Make every chain end.");
    }
    const callbacks = (doc.litellm_settings as { callbacks?: string[] } | undefined)?.callbacks ?? [];
    const envFile = s.secretFiles.find((f) => f.path === s.container?.environmentFile);
    if (callbacks.includes("prometheus") && !envFile?.entries.some((e) => e.name === "LITELLM_LICENSE")) {
      emit("litellm-metrics", "info", stackPath(s.name, "litellm", "prometheusMetrics"), `${s.name} turns on LiteLLM's Prometheus metrics without a LITELLM_LICENSE`, "LiteLLM documents its Prometheus metrics as an Enterprise feature: without a license key the proxy warns and its /metrics/ carries almost nothing but a notice metric.", "Give the license as container.secretEnvironment.LITELLM_LICENSE: config:<key>, or rely on the blackbox probe and the unit metrics.");
    }
    const request = doc.litellm_settings?.request_timeout;
    const router = doc.router_settings?.timeout;
    if (request !== undefined && router !== undefined && router > request) {
      emit("litellm-timeouts", "warning", stackPath(s.name, "litellm", "router", "timeout"), `router timeout ${router}s is above the request timeout ${request}s`, "With the router timeout under the request timeout (30 s under 60 s), the router gives up and falls back before the request times out.", "Keep router.timeout below settings.requestTimeout.");
    }
    for (const m of doc.model_list ?? []) {
      if (request !== undefined && (m.litellm_params.timeout ?? 0) > request) {
        emit("litellm-timeouts", "info", stackPath(s.name, "litellm", "models"), `${m.model_name} has a timeout of ${m.litellm_params.timeout}s, above the request timeout ${request}s`, "The request timeout cuts it off first.", "Lower the model's timeout or raise settings.requestTimeout.");
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** The user's rule tests: each failing test is an error at its config path; not run at all is said too. */
function checkRuleTests(run: RuleTestRun, count: number, emit: Emit): void {
  const at = "homefleet:monitoring.ruleTests";
  if (!run.available) {
    if (count) emit("rule-test", "info", at, `promtool is not installed: the ${count} rule test${count === 1 ? "" : "s"} did not run`, "The rule tests prove the alerts fire on the series they are meant for; unrun, a typo in an expression stays silent until the day it matters.", "Install promtool (Debian package prometheus) where the review runs, or run homefleet test-rules where it is.");
    return;
  }
  if (run.check && !run.check.passed) emit("rule-test", "error", "homefleet:monitoring.rules", `promtool check rules refuses the rules: ${run.check.output}`, "Prometheus refuses to load a rule file it cannot parse, and keeps evaluating none of its rules.", "Fix the expression or field promtool names.");
  for (const t of run.tests) {
    if (!t.passed) emit("rule-test", "error", `${at}.${t.index}`, `rule test ${t.name ?? t.index} fails: ${t.output}`, "A rule test that fails means an alert that does not fire (or fires) as its author expects.", "Fix the rule or the test's expectation.");
  }
}

export function runChecks(input: ReviewInput, alerts: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  if (input.ruleTests) {
    const prometheusHost = input.config.monitoring?.prometheusHost;
    checkRuleTests(input.ruleTests, input.config.monitoring?.ruleTests?.length ?? 0, (check, severity, path, message, why, fix) => findings.push({ check, severity, ...(prometheusHost ? { host: prometheusHost } : {}), path, message, why, fix }));
  }
  const monitored = !!input.config.monitoring;
  const threshold = input.config.review?.exposureThreshold ?? DEFAULT_EXPOSURE_THRESHOLD;
  for (const bundle of input.render.bundles) {
    const host = bundle.host;
    const emit: Emit = (check, severity, path, message, why, fix) => findings.push({ check, severity, host: host.name, path, message, why, fix });
    checkTimers(host, emit);
    checkUnitGraph(host.name, host.units, emit);
    checkContainerLimits(host, emit);
    checkBindOrder(host, emit);
    checkPorts(host, emit);
    checkProxy(host, emit);
    checkCoverage(host, monitored && !input.render.model.hosts.find((h) => h.prometheus)?.prometheus?.unreachable.some((u) => u.includes(` of ${host.name} `)), alerts, emit);
    checkSecurity(bundle, input.exposure?.get(host.name), threshold, emit);
    checkLiteLLM(host, emit);
    if (host.prometheus && !host.alertmanager) {
      emit("alert-delivery", "warning", "homefleet:monitoring.alertmanager", "alerts evaluate but notify no one: there is no Alertmanager", "Prometheus only evaluates rules; without an Alertmanager and a receiver, a firing alert is seen only by someone who looks.", "Set homefleet:monitoring.alertmanager with a receiver (webhook or email) as defaultReceiver.");
    } else if (host.alertmanager && !input.config.monitoring?.alertmanager?.heartbeatReceiver) {
      emit("alert-delivery", "warning", "homefleet:monitoring.alertmanager.heartbeatReceiver", "no heartbeat receiver: nobody notices when alerting itself breaks", "The Watchdog alert always fires; a heartbeat service that stops getting it raises the alarm when Prometheus, the rules or Alertmanager fail. Without one it is discarded.", "Set heartbeatReceiver to a webhook of a dead man's switch service (healthchecks.io, a cron monitor).");
    }
    const scraped = monitored && !host.prometheus && host.operations.exporters.some((e) => !isLoopback(e.address));
    if (scraped && host.os === "nixos" && !host.scrapedBy) {
      emit("monitoring-unreachable", "warning", hostPath(host.name, "monitoring", "listenAddress"), `the NixOS firewall of ${host.name} drops the scrapes of its exporters: no rule opens them to the Prometheus host`, "Exporters keep openFirewall = false; without a rule for the Prometheus host's address every scrape times out and TargetDown fires.", `Give homefleet:hosts.${input.config.monitoring?.prometheusHost}.address as an IPv4 address, so homefleet opens the exporter ports to it.`);
    }
    if (host.prometheus) {
      for (const u of host.prometheus.unreachable) emit("monitoring-unreachable", "warning", "homefleet:monitoring.prometheusHost", u, "An exporter Prometheus cannot reach alerts as TargetDown forever, or never gets scraped.", "Set the host's monitoring.listenAddress to an address on the monitoring network.");
    }
  }
  return findings;
}
