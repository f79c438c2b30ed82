/**
 * Deploys one host bundle over one SSH connection: upload only what changed into a new
 * generation, switch to it under a confirm-or-revert timer, gate on health, and either confirm
 * or roll back to the generation the host ran before. Also reads what a host runs (drift) and
 * removes homefleet from a host.
 */
import type { HostManifest } from "../bundle/hostBundle";
import type { HealthCheckSpec } from "../model/specs";
import type { RenderedFile } from "../render/types";
import { activateScript } from "../render/scripts/activate";
import { DeployError, HostSession, sha256, type SshTarget } from "./ssh";
import { createTar, type TarEntry } from "./tar";

export const STATE_DIR = "/var/lib/homefleet";
const ACTIVATE = `${STATE_DIR}/homefleet-activate`;

export interface SecretFileContent {
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly content: string;
}

export interface DeployOptions {
  /** Seconds after activation before the host rolls itself back unless confirmed. */
  readonly confirmAfterSec?: number;
  /** How long the health gate waits for every check to pass. */
  readonly healthTimeoutSec?: number;
  /** Generations kept on the host (at least the one to roll back to). */
  readonly keepGenerations?: number;
  /** Test hook: called after activation, before the health gate and confirmation. */
  readonly afterActivate?: (session: HostSession) => Promise<void>;
}

export interface HealthResult {
  readonly verdict: "healthy" | "unhealthy";
  readonly checkedAt: string;
  readonly checks: readonly { readonly check: string; readonly unit: string; readonly ok: boolean }[];
}

export interface DeployResult {
  readonly host: string;
  readonly generation: number;
  readonly manifestSha256: string;
  /** False for a no-op: nothing uploaded, nothing restarted. */
  readonly changed: boolean;
  readonly uploadedFiles: readonly string[];
  /** True when an earlier generation kept on the host held this manifest and was switched to again. */
  readonly reusedGeneration: boolean;
  readonly secretsWritten: readonly string[];
  readonly restarted: readonly string[];
  readonly bytesSent: number;
  readonly sshConnections: number;
  readonly commands: number;
  readonly health: HealthResult;
  readonly unitStates: Readonly<Record<string, string>>;
}

export interface HostStatus {
  readonly generation: number | null;
  readonly previous: number | null;
  readonly manifestSha256: string | null;
  /** path → sha256 on the host, or "missing". */
  readonly files: Readonly<Record<string, string>>;
  /** Every generation kept on the host → its manifest sha256. */
  readonly generations: Readonly<Record<string, string>>;
  /** The revert timer is armed: the current generation was switched to but not confirmed. */
  readonly armed: boolean;
}

/** Single-quotes a value for the host's shell. */
export function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const SEPARATOR = "--homefleet-probe--";
/** Exit status of the arm-and-switch command when arming failed (and nothing was switched). */
const ARM_FAILED = 97;

interface Probe {
  readonly activateSha256: string;
  readonly manifest?: HostManifest;
  readonly status: HostStatus;
  readonly secretHashes: Map<string, string>;
}

/**
 * Everything a deployment needs to know about the host, in one command (each SSH channel costs a
 * round trip): the host side's script hash, the running manifest, the generation store's status
 * with every managed file's hash, and the secret files' hashes (never their content).
 */
export async function probeHost(session: HostSession, secretPaths: readonly string[]): Promise<Probe> {
  const out = await session.run(
    "reading the host's generation",
    [
      `sha256sum ${ACTIVATE} 2>/dev/null | cut -d' ' -f1`,
      `echo ${SEPARATOR}`,
      `cat ${STATE_DIR}/current/manifest.json 2>/dev/null || true`,
      `echo ${SEPARATOR}`,
      `if [ -x ${ACTIVATE} ]; then ${ACTIVATE} status; else echo '{"current":null,"previous":null,"files":{}}'; fi`,
      `echo ${SEPARATOR}`,
      ...(secretPaths.length ? [`for f in ${secretPaths.map(sh).join(" ")}; do if [ -f "$f" ]; then sha256sum "$f"; else echo "missing  $f"; fi; done`] : []),
    ].join("\n"),
  );
  const [activate, manifestText, statusText, secretsText] = out.split(`${SEPARATOR}\n`);
  const manifest = manifestText.trim() ? (JSON.parse(manifestText) as HostManifest) : undefined;
  const status = JSON.parse(statusText) as { current: number | null; previous: number | null; files: Record<string, string>; generations?: Record<string, string>; armed?: boolean };
  const secretHashes = new Map(
    (secretsText ?? "")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(l.indexOf("  ") + 2), l.slice(0, l.indexOf("  "))] as [string, string]),
  );
  return {
    activateSha256: activate.trim(),
    manifest,
    status: { generation: status.current, previous: status.previous, manifestSha256: manifest?.sha256 ?? null, files: status.files, generations: status.generations ?? {}, armed: status.armed ?? false },
    secretHashes,
  };
}

async function ensureActivateScript(session: HostSession): Promise<void> {
  const want = sha256(activateScript.text);
  const have = (await session.exec(`sha256sum ${ACTIVATE} 2>/dev/null | cut -d' ' -f1`)).stdout.trim();
  if (have !== want) {
    await session.run("installing homefleet-activate", `umask 077 && mkdir -p ${STATE_DIR} && cat > ${ACTIVATE}.new && chmod 0700 ${ACTIVATE}.new && mv -f ${ACTIVATE}.new ${ACTIVATE}`, activateScript.text);
  }
}

/** The generation the host runs and every managed file's hash: the probe without secrets. */
export async function hostStatus(session: HostSession): Promise<HostStatus> {
  return (await probeHost(session, [])).status;
}

function healthCommand(check: HealthCheckSpec): { name: string; unit: string; command: string } {
  return { unit: check.unit, ...healthProbe(check) };
}

function healthProbe(check: HealthCheckSpec): { name: string; command: string } {
  switch (check.kind) {
    case "unit":
      return { name: `unit ${check.unit} active`, command: `systemctl is-active --quiet ${sh(check.unit)}` };
    case "http":
      return { name: `${check.unit}: GET ${check.url}`, command: `curl --silent --fail --max-time 10 --output /dev/null ${sh(check.url)}` };
    case "postgres":
      return { name: `${check.unit}: pg_isready ${check.host}:${check.port}`, command: `pg_isready --quiet --host=${sh(check.host)} --port=${check.port}` };
    case "redis":
      // The password goes to redis-cli on stdin (--askpass), not on its command line.
      return { name: `${check.unit}: Redis PING ${check.host}:${check.port}`, command: `redis-cli --no-auth-warning -h ${sh(check.host)} -p ${check.port} --askpass PING < ${sh(check.passwordFile)} | grep -qx PONG` };
  }
}

/**
 * Polls every check until all pass or the time is up. Units that must run are checked too, and a
 * unit that has failed for good (not waiting to restart) ends the wait early.
 */
export async function healthGate(session: HostSession, checks: readonly HealthCheckSpec[], timeoutSec: number, units: readonly string[] = []): Promise<HealthResult> {
  // The service's own checks first: a failing HTTP check says more than "unit not active".
  const commands = [...checks.filter((c) => c.kind !== "unit" || !units.includes(c.unit)).map(healthCommand), ...units.map((unit) => healthCommand({ kind: "unit", unit, timeoutSec: 0 }))];
  const deadline = Date.now() + timeoutSec * 1000;
  // One command per round (sshd allows few channels at once): a line per check, then whether any unit failed for good.
  const round = [
    ...commands.map((c, i) => `if ${c.command}; then echo ${i}=ok; else echo ${i}=fail; fi`),
    units.length ? `if systemctl is-failed --quiet ${units.map(sh).join(" ")}; then echo failed-unit; fi` : "",
  ].join("\n");
  let results = commands.map((c) => ({ check: c.name, unit: c.unit, ok: false }));
  for (;;) {
    const out = (await session.exec(round, undefined, 120)).stdout;
    results = commands.map((c, i) => ({ check: c.name, unit: c.unit, ok: new RegExp(`^${i}=ok$`, "m").test(out) }));
    if (results.every((r) => r.ok) || Date.now() > deadline || /^failed-unit$/m.test(out)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { verdict: results.every((r) => r.ok) ? "healthy" : "unhealthy", checkedAt: new Date().toISOString(), checks: results };
}

export async function unitStates(session: HostSession, units: readonly string[]): Promise<Record<string, string>> {
  if (!units.length) return {};
  const out = (await session.exec(`systemctl is-active ${units.map(sh).join(" ")}`)).stdout.trim().split("\n");
  return Object.fromEntries(units.map((u, i) => [u, out[i] ?? "unknown"]));
}

async function journalOf(session: HostSession, unit: string): Promise<string> {
  return (await session.exec(`journalctl --no-pager --output=cat -n 25 -u ${sh(unit)}`)).stdout.trim();
}

function stackOfSecret(path: string): string | undefined {
  return path.match(/^\/var\/lib\/homefleet\/secrets\/([^/]+)\//)?.[1];
}

export async function deployHost(target: SshTarget, files: readonly RenderedFile[], manifest: HostManifest, secrets: readonly SecretFileContent[], options: DeployOptions = {}): Promise<DeployResult> {
  const session = await HostSession.connect(target);
  try {
    let probe = await probeHost(session, secrets.map((s) => s.path));
    if (probe.activateSha256 !== sha256(activateScript.text)) {
      await ensureActivateScript(session);
      // The new host side may report more (kept generations): ask it again.
      if (probe.status.generation !== null) probe = await probeHost(session, secrets.map((s) => s.path));
    }
    const previous = probe.manifest;
    const status = probe.status;
    const hostSecretHashes = probe.secretHashes;
    const changedSecrets = secrets.filter((s) => hostSecretHashes.get(s.path) !== sha256(s.content));
    const drifted = previous ? Object.entries(status.files).filter(([p, h]) => previous.files.find((f) => f.path === p)?.sha256 !== h) : [];

    const noop = previous?.sha256 === manifest.sha256 && drifted.length === 0 && changedSecrets.length === 0;
    if (noop && status.armed) return await finishUnconfirmed(session, manifest, status, options);
    if (noop) {
      const states = await unitStates(session, manifest.start);
      const verdict = Object.values(states).every((s) => s === "active") ? "healthy" : "unhealthy";
      return nothingUploaded(session, manifest, status.generation!, false, { verdict, checkedAt: new Date().toISOString(), checks: [] }, states);
    }

    // The host already runs this manifest (a repair of hand edits, or new secrets): switch to the
    // same generation again, which reinstalls what differs and restarts what reads it.
    const sameGeneration = previous?.sha256 === manifest.sha256 && status.generation !== null;
    // Going back to an earlier config: a generation kept on the host already holds it, verified
    // when it was prepared. Switch to it again instead of uploading anything.
    const kept = sameGeneration ? undefined : Object.entries(status.generations).find(([g, sha]) => sha === manifest.sha256 && Number(g) !== status.generation);
    let upload: HostManifest["files"][number][] = [];
    let generation: number;
    if (sameGeneration) generation = status.generation as number;
    else if (kept) generation = Number(kept[0]);
    else {
      // Upload only files whose content the current generation does not already hold.
      const held = new Map((previous?.files ?? []).map((f) => [f.path, f.sha256]));
      const byPath = new Map(files.map((f) => [f.path, f]));
      upload = manifest.files.filter((f) => held.get(f.path) !== f.sha256);
      const entries: TarEntry[] = [
        { path: "manifest.json", mode: 0o644, content: JSON.stringify(manifest, null, 2) + "\n" },
        ...upload.map((f) => ({ path: `files${f.path}`, mode: parseInt(f.mode, 8), content: byPath.get(f.path)!.content })),
      ];
      // After the host went back to an older generation, newer ones still exist: never reuse a number.
      generation = Math.max(status.generation ?? 0, ...Object.keys(status.generations).map(Number)) + 1;
      await session.run("uploading the new generation", `${ACTIVATE} prepare ${generation}`, createTar(entries));
    }

    for (const s of changedSecrets) {
      const dir = s.path.slice(0, s.path.lastIndexOf("/"));
      await session.run(
        `writing secret ${s.path}`,
        `umask 077 && mkdir -p ${sh(dir)} && chmod 0700 ${sh(dir)} && cat > ${sh(s.path + ".homefleet-new")} && chown ${sh(`${s.owner}:${s.group}`)} ${sh(s.path + ".homefleet-new")} && chmod ${s.mode} ${sh(s.path + ".homefleet-new")} && mv -f ${sh(s.path + ".homefleet-new")} ${sh(s.path)}`,
        s.content,
      );
    }

    // Nothing to go back to when re-switching the running generation: the hand edits are not kept.
    const rollbackTo = sameGeneration ? null : status.generation;
    // Armed and switched in one command: the timer runs before anything changes.
    const arm = rollbackTo !== null ? `${ACTIVATE} arm ${options.confirmAfterSec ?? 120} >/dev/null || exit ${ARM_FAILED}; ` : "";
    const switched = await session.exec(`${arm}${ACTIVATE} switch ${generation}`);
    if (switched.code === ARM_FAILED) throw new DeployError(target.host, `arming confirm-or-revert failed, nothing was switched: ${switched.stderr.trim()}`);
    const restarted = (switched.stdout.match(/^restarting: (.*)$/m)?.[1] ?? "").split(" ").filter(Boolean);
    // Units whose secrets changed read them at start: restart them too.
    const secretStacks = new Set(changedSecrets.map((s) => stackOfSecret(s.path)).filter((s): s is string => !!s));
    const secretUnits = manifest.start.filter((u) => [...secretStacks].some((stack) => u.endsWith(`-${stack}.service`)) && !restarted.includes(u));
    if (previous && secretUnits.length && switched.code === 0) {
      await session.exec(`systemctl restart --no-block ${secretUnits.map(sh).join(" ")}`);
      restarted.push(...secretUnits);
    }
    await options.afterActivate?.(session);

    const health = switched.code === 0 ? await healthGate(session, manifest.healthChecks, options.healthTimeoutSec ?? 300, manifest.start) : { verdict: "unhealthy" as const, checkedAt: new Date().toISOString(), checks: [{ check: "activation", unit: "", ok: false }] };
    if (health.verdict !== "healthy") {
      const failing = health.checks.find((c) => !c.ok);
      const failed = failing?.check ?? "activation";
      const unit = failing?.unit || manifest.start.find((u) => u.startsWith("podman-")) || "";
      const journal = unit ? await journalOf(session, unit) : "";
      // A first deployment has no generation to go back to: back to no homefleet at all.
      let rolledBack = "removed it again (no earlier generation): the host runs nothing of homefleet's, as before";
      if (sameGeneration) rolledBack = `the host stays on generation ${generation}, which it ran before this repair`;
      else if (rollbackTo === null) {
        await uninstall(session, manifest).catch((err: Error) => (rolledBack = `REMOVAL FAILED: ${err.message}`));
      }
      if (rollbackTo !== null) {
        const r = await session.exec(`${ACTIVATE} rollback && ${ACTIVATE} confirm`, undefined, 120);
        if (r.code !== 0) rolledBack = `ROLLBACK FAILED: ${(r.stderr || r.stdout).trim()}`;
        else {
          // Say whether the old generation serves again, not just that its files are back.
          const old = previous as HostManifest;
          const again = await healthGate(session, old.healthChecks, options.healthTimeoutSec ?? 300, old.start);
          rolledBack = `rolled back to generation ${rollbackTo}, which is ${again.verdict}` + (again.verdict === "healthy" ? "" : ` (failing: ${again.checks.filter((c) => !c.ok).map((c) => c.check).join(", ")})`);
        }
      }
      const activation = switched.code !== 0 ? `\nactivation output:\n${(switched.stderr || switched.stdout).trim().split("\n").slice(-10).join("\n")}` : "";
      throw new DeployError(target.host, `generation ${generation} failed its health check "${failed}"; ${rolledBack}.${activation}\nlast journal lines of ${unit}:\n${journal}`);
    }
    const confirm = rollbackTo !== null ? `${ACTIVATE} confirm >/dev/null && ` : "";
    await session.run("confirming the generation", `${confirm}${ACTIVATE} gc ${Math.max(2, options.keepGenerations ?? 3)}`);
    return {
      host: target.host,
      generation,
      manifestSha256: manifest.sha256,
      changed: true,
      uploadedFiles: upload.map((f) => f.path),
      reusedGeneration: !!kept,
      secretsWritten: changedSecrets.map((s) => s.path),
      restarted,
      bytesSent: session.bytesSent,
      sshConnections: 1,
      commands: session.commands,
      health,
      unitStates: await unitStates(session, manifest.start),
    };
  } finally {
    session.close();
  }
}

/**
 * The host already runs this manifest, but its revert timer is still armed: an earlier deployment
 * was cut off (a killed or interrupted deployer) after the switch and before the confirmation. Gate
 * on health now and confirm, or roll back at once, rather than report success and let the timer
 * revert a generation the report called good.
 */
async function finishUnconfirmed(session: HostSession, manifest: HostManifest, status: HostStatus, options: DeployOptions): Promise<DeployResult> {
  const host = session.target.host;
  const generation = status.generation as number;
  const health = await healthGate(session, manifest.healthChecks, options.healthTimeoutSec ?? 300, manifest.start);
  if (health.verdict !== "healthy") {
    const failed = health.checks.find((c) => !c.ok)?.check ?? "activation";
    const r = await session.exec(`${ACTIVATE} rollback && ${ACTIVATE} confirm`, undefined, 120);
    const outcome = r.code === 0 ? `rolled back to generation ${status.previous}` : `ROLLBACK FAILED: ${(r.stderr || r.stdout).trim()}`;
    throw new DeployError(host, `generation ${generation} was never confirmed by the deployment that switched to it, and fails its health check "${failed}"; ${outcome}.`);
  }
  await session.run("confirming the generation", `${ACTIVATE} confirm >/dev/null && ${ACTIVATE} gc ${Math.max(2, options.keepGenerations ?? 3)}`);
  return nothingUploaded(session, manifest, generation, true, health, await unitStates(session, manifest.start));
}

/** The report of a deployment that found the host on the wanted manifest: nothing went up. */
function nothingUploaded(session: HostSession, manifest: HostManifest, generation: number, changed: boolean, health: HealthResult, states: Record<string, string>): DeployResult {
  return {
    host: session.target.host,
    generation,
    manifestSha256: manifest.sha256,
    changed,
    uploadedFiles: [],
    reusedGeneration: false,
    secretsWritten: [],
    restarted: [],
    bytesSent: session.bytesSent,
    sshConnections: 1,
    commands: session.commands,
    health,
    unitStates: states,
  };
}

/** What the host runs, for drift: every managed file's hash against the manifest. */
export async function readHost(target: SshTarget): Promise<HostStatus> {
  const session = await HostSession.connect(target);
  try {
    return await hostStatus(session);
  } finally {
    session.close();
  }
}

/** Stops and disables homefleet's units and removes its files and secrets; keeps data and backups. */
export async function removeHost(target: SshTarget): Promise<void> {
  const session = await HostSession.connect(target);
  try {
    const { manifest } = await probeHost(session, []);
    if (manifest) await uninstall(session, manifest);
  } finally {
    session.close();
  }
}

/** Removes homefleet's own state on the host: secrets, generations, and the host-side script. */
const REMOVE_STATE = `rm -rf ${["secrets", "generations", "current", "previous"].map((d) => sh(`${STATE_DIR}/${d}`)).join(" ")} ${ACTIVATE}`;

/** Directories only homefleet writes into: emptied ones go on removal (others may belong to packages). */
const HOMEFLEET_DIRS = ["/etc/homefleet", "/usr/local/lib/homefleet"];

/** Stops and disables the manifest's own units, removes its files, secrets and generations; data stays. */
async function uninstall(session: HostSession, manifest: HostManifest): Promise<void> {
  if (manifest.os === "nixos") {
    // configuration.nix imports ./homefleet: leave an empty module there, and switch without homefleet's services.
    const empty = "# homefleet was removed from this host; this empty module keeps the import in configuration.nix working.\n{ ... }:\n{\n}\n";
    await session.run("removing homefleet's modules", `rm -f ${manifest.files.map((f) => sh(f.path)).join(" ")} && find /etc/nixos/homefleet -mindepth 1 -depth -type d -empty -delete && cat > /etc/nixos/homefleet/default.nix && nixos-rebuild switch`, empty);
    await session.run("removing homefleet's state", REMOVE_STATE);
    return;
  }
  const own = manifest.units.filter((u) => manifest.files.some((f) => f.path === `/etc/systemd/system/${u}`));
  if (own.length) await session.exec(`systemctl disable --now ${own.map(sh).join(" ")}`, undefined, 300);
  if (manifest.start.length) await session.exec(`systemctl stop ${manifest.start.map(sh).join(" ")}`, undefined, 300);
  await session.run("removing homefleet's files", `rm -f ${manifest.files.map((f) => sh(f.path)).join(" ")} && ${HOMEFLEET_DIRS.map((d) => `{ ! [ -d ${d} ] || find ${d} -depth -type d -empty -delete; }`).join(" && ")} && ${REMOVE_STATE} && systemctl daemon-reload`);
}
