/**
 * Deploys one host bundle over one SSH connection, under the host's deploy lock: read the host's
 * state, plan (plan.ts), and carry the plan out: upload only what changed into a new generation,
 * switch to it under a revert timer, gate on health (held for a soak time), and confirm it or roll
 * back to the last confirmed generation. The report is what the host says it runs afterwards.
 * Also reads what a host runs (drift) and removes homefleet from a host.
 */
import { hostname, userInfo } from "node:os";
import type { HostManifest } from "../bundle/hostBundle";
import type { HealthCheckSpec } from "../model/specs";
import type { RenderedFile } from "../render/types";
import { activateScript } from "../render/scripts/activate";
import { planDeployment, speculativePlan, type DeployPlan, type HostState, type SecretEntry, type WantedGeneration } from "./plan";
import { DeployError, HostSession, sh, sha256, type ExecResult, type SshTarget } from "./ssh";
import { createTar } from "./tar";

export { sh } from "./ssh";

export const STATE_DIR = "/var/lib/homefleet";
const ACTIVATE = `${STATE_DIR}/homefleet-activate`;
/** Exit statuses of homefleet-activate (see the script). */
const EXIT_HELD = 75;
const EXIT_STALE = 77;
/** The lock command's own: homefleet-activate is missing or not this deployer's, or installing it failed (see underDeployLock). */
const EXIT_OTHER_SCRIPT = 78;
const EXIT_INSTALL = 79;
/** The switch command's own: pulling an image failed, before anything was uploaded or switched. */
const EXIT_PULL = 80;

export interface SecretFileContent {
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly content: string;
  /** Secrets with no value yet (a targeted up skipped the resources that make them): the file cannot be deployed. */
  readonly missing?: readonly string[];
}

export interface DeployOptions {
  /** Seconds after activation before the host rolls itself back unless confirmed. */
  readonly confirmAfterSec?: number;
  /** How long the health gate waits for every check to pass. */
  readonly healthTimeoutSec?: number;
  /** How long every check must keep passing after the first round that passed them all. */
  readonly healthSoakSec?: number;
  /** Generations kept on the host (at least the one to roll back to). */
  readonly keepGenerations?: number;
  /** Who deploys, as another deployment is told when it finds the host locked. */
  readonly holder?: string;
  /**
   * The host is new to this deployment (its resource is being created): homefleet-activate goes
   * with the lock's first command instead of after a check has found it missing, one round trip
   * fewer. Installing it again over the same script is harmless, so a wrong guess costs bytes only.
   */
  readonly firstDeployment?: boolean;
  /**
   * What this deployer last left on the host, from its own records (Pulumi state): the host
   * confirmed on `generation` (null: nothing of homefleet's) with `manifest`. When the wanted
   * manifest differs from it, the new generation goes with the lock's first command, and the host
   * switches to it there and then if it is exactly as expected: one round trip for a healthy
   * deployment. Else the host drops the upload and the deployment goes on from what it reports,
   * as without this, so a wrong record costs bytes only.
   */
  readonly expected?: { readonly generation: number | null; readonly manifest: HostManifest | null };
  /** Test hook: called after activation, before the health gate and confirmation. */
  readonly afterActivate?: (session: HostSession) => Promise<void>;
  /** Test hook: called before a new generation is uploaded (to cut the connection there). */
  readonly beforeUpload?: (session: HostSession) => Promise<void>;
  /** Told each step as it starts, for a progress display (`pulumi up` shows it beside the resource). */
  readonly progress?: (step: DeployStep) => void;
}

/** A step of one host's deployment, as it starts. */
export type DeployStep =
  | { readonly step: "connecting"; readonly address: string }
  | { readonly step: "pulling"; readonly images: number }
  | { readonly step: "uploading"; readonly generation: number; readonly files: number; readonly bytes: number }
  | { readonly step: "switching"; readonly generation: number; readonly reused: boolean }
  | { readonly step: "health"; readonly generation: number; readonly round: number; readonly passing: number; readonly checks: number; readonly soakingSec?: number }
  | { readonly step: "confirming"; readonly generation: number }
  | { readonly step: "rolling-back"; readonly generation: number }
  | { readonly step: "unchanged"; readonly generation: number };

const kib = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);

/** One line per step, as a user reads it beside the host's resource. */
export function describeStep(s: DeployStep): string {
  switch (s.step) {
    case "connecting":
      return `connecting to ${s.address}`;
    case "pulling":
      return `pulling ${s.images} container image${s.images === 1 ? "" : "s"} (those not on the host yet)`;
    case "uploading":
      return `uploading generation ${s.generation}: ${s.files} file${s.files === 1 ? "" : "s"}, ${kib(s.bytes)}`;
    case "switching":
      return `switching to generation ${s.generation}${s.reused ? " (kept on the host)" : ""}, revert timer armed`;
    case "health":
      return `health round ${s.round}: ${s.passing} of ${s.checks} checks pass${s.soakingSec !== undefined ? `, holding for ${s.soakingSec} s` : ""}`;
    case "confirming":
      return `healthy: confirming generation ${s.generation}`;
    case "rolling-back":
      return `unhealthy: rolling generation ${s.generation} back`;
    case "unchanged":
      return `generation ${s.generation} already runs: checking its units`;
  }
}

export interface HealthResult {
  readonly verdict: "healthy" | "unhealthy";
  readonly checkedAt: string;
  /** The last round's results that were taken on the generation under test. */
  readonly checks: readonly { readonly check: string; readonly unit: string; readonly ok: boolean }[];
  /** Seconds every check kept passing before the verdict. */
  readonly heldSec?: number;
  /**
   * Set when the host left the generation under test during the gate (its revert timer rolled it
   * back): the host's state line then, `PHASE CURRENT`. The gate stops there; `checks` are the
   * last round's taken while the host still ran the generation.
   */
  readonly leftFor?: string;
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
  /** The key the host offered, `type base64`: pinned in state so a changed one is refused later. */
  readonly hostKey: string;
}

export interface HostStatus {
  readonly generation: number | null;
  /** The last generation confirmed healthy: where a rollback goes. */
  readonly confirmed: number | null;
  readonly phase: HostState["phase"];
  readonly manifestSha256: string | null;
  /** path → sha256 on the host, or "missing". */
  readonly files: Readonly<Record<string, string>>;
  /** Secret path → sha256 on the host, or "missing" (hashes only). */
  readonly secrets: Readonly<Record<string, string>>;
  /** Every generation kept on the host → its manifest sha256, or "damaged". */
  readonly generations: Readonly<Record<string, string>>;
  /** The revert timer is armed: the current generation was switched to but not confirmed. */
  readonly armed: boolean;
  readonly holder: string | null;
  /** The key the host offered. */
  readonly hostKey: string;
}

/**
 * Reads the host's state, after `before` (host-side commands whose own output goes to stderr):
 * one round trip for a step and the state it leaves. `what` names the step in any error.
 */
async function readState(session: HostSession, what = "reading the host's state", before = ""): Promise<HostState> {
  const out = await session.run(what, `${before}if [ -x ${ACTIVATE} ]; then ${ACTIVATE} status; else echo none; fi`, undefined, 900);
  if (out.trim() === "none") return { phase: "confirmed", current: null, confirmed: null, manifest: null, files: {}, secrets: {}, generations: {}, armed: false, holder: null };
  return parseState(session, what, out);
}

/** `homefleet-activate status` output as a HostState; `what` names the step in the error. */
function parseState(session: HostSession, what: string, out: string): HostState {
  try {
    return JSON.parse(out) as HostState;
  } catch (err) {
    throw new DeployError(session.target.host, `${what}: homefleet-activate status did not print JSON (${(err as Error).message}): ${out.slice(0, 200)}`);
  }
}

/**
 * The state from the parts `homefleet-activate hold HOLDER status` prints before "held" (see
 * do_begin in the script): put together here, as its status command would with a second jq run.
 */
export function stateFromParts(host: string, what: string, out: string): HostState {
  const lines = out.split("\n");
  const fail = (why: string) => new DeployError(host, `${what}: homefleet-activate printed no state (${why}): ${out.slice(0, 200)}`);
  let summary: { kept: HostState["generations"]; manifest: HostState["manifest"]; secretList: string[] };
  try {
    summary = JSON.parse(lines[0]);
  } catch (err) {
    throw fail((err as Error).message);
  }
  const state = lines[1]?.match(/^state (confirmed|switching|armed|rolling-back) (-|\d+) (-|\d+)$/);
  const holder = lines[2]?.match(/^holder (.*)$/)?.[1];
  const [u, h] = [lines.indexOf("units:"), lines.indexOf("hashes:")];
  if (!state || holder === undefined || u < 0 || h < u) throw fail("its parts are not all there");
  const units = summary.manifest?.start ?? [];
  const active = lines.slice(u + 1, h);
  const have = new Map(lines.slice(h + 1).flatMap((l) => (/^[0-9a-f]{64}  ./.test(l) ? [[l.slice(66), l.slice(0, 64)] as const] : [])));
  const number = (v: string) => (v === "-" ? null : Number(v));
  return {
    phase: state[1] as HostState["phase"],
    current: number(state[2]),
    confirmed: number(state[3]),
    manifest: summary.manifest,
    files: Object.fromEntries((summary.manifest?.files ?? []).map((f) => [f.path, have.get(f.path) ?? "missing"])),
    secrets: Object.fromEntries(summary.secretList.map((p) => [p, have.get(p) ?? "missing"])),
    units: Object.fromEntries(units.map((unit, i) => [unit, active[i] || "unknown"])),
    generations: summary.kept,
    // The revert timer's line follows the units'.
    armed: active[units.length] === "active",
    holder: holder || null,
  };
}

function statusOf(session: HostSession, state: HostState): HostStatus {
  const generations = Object.fromEntries(Object.entries(state.generations).map(([g, e]) => [g, e === "damaged" ? "damaged" : e.manifest]));
  return {
    generation: state.current,
    confirmed: state.confirmed,
    phase: state.phase,
    manifestSha256: state.manifest?.sha256 ?? null,
    files: state.files,
    secrets: state.secrets,
    generations,
    armed: state.armed,
    holder: state.holder,
    hostKey: session.hostKey,
  };
}

/** The generation the host runs and every managed file's hash. */
export async function hostStatus(session: HostSession): Promise<HostStatus> {
  return statusOf(session, await readState(session));
}

/**
 * Installs homefleet-activate from the first bytes of stdin (head -c reads no further: the
 * deploy lock's heartbeats follow on the same stdin), then runs `then`. A copy cut short is not
 * installed; a failure exits EXIT_INSTALL.
 */
function installingActivate(then: string): string {
  const size = Buffer.byteLength(activateScript.text);
  return `(umask 077 && mkdir -p ${STATE_DIR} && head -c ${size} > ${ACTIVATE}.new && [ "$(stat -c %s ${ACTIVATE}.new)" = ${size} ] && chmod 0700 ${ACTIVATE}.new && mv -f ${ACTIVATE}.new ${ACTIVATE}) || exit ${EXIT_INSTALL}; ${then}`;
}

function defaultHolder(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): keep "unknown"
  }
  return `homefleet deployer ${user}@${hostname()} (pid ${process.pid})`;
}

const RECOVER_AND_STATUS = "reading the host's state (and clearing what interrupted deployments left)";

/**
 * Runs `work` holding the host's deploy lock: a second deployment to the same host is refused
 * with the holder's name, and a killed or cut-off deployer frees the host within 30 s.
 * The lock's command first checks that homefleet-activate is this deployer's (else it is
 * installed and the lock asked for again); with `withStatus`, it also clears what interrupted
 * deployments left and reports the host's state, which `work` gets: one round trip in all.
 */
async function underDeployLock<T>(
  session: HostSession,
  holder: string | undefined,
  withStatus: boolean,
  work: (state: HostState | undefined, speculated?: ExecResult) => Promise<T>,
  installFirst = false,
  expect?: Expectation,
  speculation?: Speculation,
): Promise<T> {
  const who = sh((holder ?? defaultHolder()).replace(/[^\x20-\x7e]/g, "?"));
  const want = sha256(activateScript.text);
  // The host checks the expectation under its state lock; an upload needs one (the first deployment's is "-": nothing installed).
  const expectation = withStatus && expect ? ` ${expect.generation ?? "-"} ${expect.manifestSha256 ?? "-"}${speculation ? ` ${speculation.upload.length} ${speculation.timeoutSec} ${sh(speculation.work)}` : ""}` : "";
  const upload = expectation && speculation ? speculation.upload : undefined;
  const hold = `exec ${ACTIVATE} hold ${who}${withStatus ? " status" : ""}${expectation}`;
  const stdinOf = (install: boolean) => (install ? Buffer.concat([Buffer.from(activateScript.text), ...(upload ? [upload] : [])]) : upload);
  const take = (install: boolean) =>
    session.lease(install ? installingActivate(hold) : `h=$(sha256sum ${ACTIVATE} 2>/dev/null) && [ "\${h%% *}" = ${want} ] || exit ${EXIT_OTHER_SCRIPT}; ${hold}`, "held", stdinOf(install), speculation?.onOutput).catch((err: DeployError) => {
      if (err.exitCode === EXIT_OTHER_SCRIPT) return undefined;
      if (err.exitCode === EXIT_INSTALL) throw new DeployError(session.target.host, `installing homefleet-activate failed: ${err.reason}`);
      // The lock was free but the recovery or the status after it failed: name that step.
      if (withStatus && err.exitCode !== undefined && err.exitCode !== EXIT_HELD) throw new DeployError(session.target.host, `${RECOVER_AND_STATUS} failed (exit ${err.exitCode}): ${err.reason.split("\n").slice(-15).join("\n")}`);
      throw new DeployError(session.target.host, `not deployed: ${err.reason}`);
    });
  // Missing or another deployer's: installed by the next lock command, in the same round trip.
  const lease = installFirst ? await take(true) : ((await take(false)) ?? (await take(true)));
  if (!lease) throw new DeployError(session.target.host, "not deployed: installing homefleet-activate failed");
  try {
    if (!withStatus) return await work(undefined);
    const { before, speculated } = splitSpeculated(lease.output, lease.errors);
    return await work(stateFromParts(session.target.host, RECOVER_AND_STATUS, before), speculated);
  } finally {
    lease.release();
  }
}

/** What the deployer's records say the host runs: confirmed on `generation` (null: nothing) with that manifest. */
interface Expectation {
  readonly generation: number | null;
  readonly manifestSha256: string | null;
}

/** A new generation sent with the lock's command, and what the host runs on it when it is as expected. */
interface Speculation {
  /** The generation's tar. */
  readonly upload: Buffer;
  /** Host shell run on the upload (its stdin) when the host is as expected: prepare and switch. */
  readonly work: string;
  readonly timeoutSec: number;
  readonly onOutput: (soFar: string) => void;
}

/** Printed by homefleet-activate around the work it ran with the lock (see speculate there). */
const WORK_MARK = "homefleet:work";

/** The lock command's output: the status parts before the work, and the work's result if it ran. */
export function splitSpeculated(output: string, errors: string): { before: string; speculated?: ExecResult } {
  const lines = output.split("\n");
  const at = lines.indexOf(WORK_MARK);
  if (at < 0) return { before: output };
  const exitLine = new RegExp(`^${WORK_MARK}-exit \\d+$`);
  const exit = lines.findIndex((l, i) => i > at && exitLine.test(l));
  const code = exit < 0 ? 1 : Number(lines[exit].slice(`${WORK_MARK}-exit `.length));
  const stdout = lines.slice(at + 1, exit < 0 ? undefined : exit).join("\n");
  return { before: lines.slice(0, at).join("\n"), speculated: { code, stdout: stdout ? `${stdout}\n` : "", stderr: errors } };
}

/** `unitActive`: a unit check, asked of systemd with every other unit check in one call. */
function healthCommand(check: HealthCheckSpec): { name: string; unit: string; command: string; unitActive?: string } {
  return { unit: check.unit, ...healthProbe(check), ...(check.kind === "unit" ? { unitActive: check.unit } : {}) };
}

function healthProbe(check: HealthCheckSpec): { name: string; command: string } {
  switch (check.kind) {
    case "unit":
      return { name: `unit ${check.unit} active`, command: `systemctl is-active --quiet ${sh(check.unit)}` };
    case "http":
      return { name: `${check.unit}: GET ${check.url}`, command: `curl --silent --fail --max-time 10 --output /dev/null ${sh(check.url)}` };
    case "postgres":
      return { name: `${check.unit}: pg_isready ${check.host}:${check.port}`, command: `timeout 10 pg_isready --quiet --host=${sh(check.host)} --port=${check.port}` };
    case "redis":
      // The password goes to redis-cli on stdin (--askpass), not on its command line.
      return { name: `${check.unit}: Redis PING ${check.host}:${check.port}`, command: `timeout 10 redis-cli --no-auth-warning -h ${sh(check.host)} -p ${check.port} --askpass PING < ${sh(check.passwordFile)} | grep -qx PONG` };
  }
}

/** One round of the health gate as one host command, and how to read its output. */
export interface GateRound {
  /**
   * The round's shell (POSIX sh): a line of state per unit check (one systemctl), `states-end`,
   * `job <unit>` per unit with a queued job when a unit is failed, then `<i>=ok` or `<i>=fail` per
   * other check. It also leaves `ok=1` in the shell when every check
   * passed, by the same rules as `parse`, so that a command can go on to confirm on the host.
   */
  readonly script: string;
  /** `left`: the host's state (`PHASE CURRENT`) when the round ended off the generation it checks; its results are not that generation's. */
  parse(out: string): { results: { check: string; unit: string; ok: boolean }[]; allOk: boolean; failedUnit: boolean; left?: string };
}

/**
 * The last line of a round that checks one generation: the host's state once every check has run.
 * A rollback writes `rolling-back` before it touches anything and the state file is replaced whole,
 * so a round that ends with the host still on the generation (and not rolling back) saw only it.
 */
const STATE_LINE = "homefleet-state";
const STATE_LINE_READ = new RegExp(`^${STATE_LINE} (\\S+) (\\S*)$`, "m");

export function gateRound(checks: readonly HealthCheckSpec[], units: readonly string[] = [], generation?: number): GateRound {
  // The service's own checks first: a failing HTTP check says more than "unit not active".
  const commands = [...checks.filter((c) => c.kind !== "unit" || !units.includes(c.unit)).map(healthCommand), ...units.map((unit) => healthCommand({ kind: "unit", unit, timeoutSec: 0 }))];
  // One command per round (sshd allows few channels at once), and one systemctl for every unit
  // check: a line of state per unit (active and reloading pass; failed with no job queued is a
  // unit failed for good), then a line per other check.
  const unitChecks = commands.flatMap((c, i) => (c.unitActive !== undefined ? [{ i, unit: c.unitActive }] : []));
  const unitArgs = unitChecks.map((u) => sh(u.unit)).join(" ");
  const script = [
    "ok=1",
    unitChecks.length
      ? [
          `s=$(systemctl is-active -- ${unitArgs}); printf '%s\n' "$s"; echo states-end`,
          // A failed unit with a job queued (a restart whose stop ended in failure) is on its way
          // back: only one without a job has failed for good. Asked only when a unit is failed.
          `case $s in *failed*) systemctl list-jobs --no-legend ${unitArgs} 2>/dev/null | while read -r _ u _; do echo "job $u"; done ;; esac`,
          `n=0; for st in $s; do n=$((n + 1)); case $st in active|reloading) ;; *) ok=0 ;; esac; done; [ "$n" = ${unitChecks.length} ] || ok=0`,
        ].join("\n")
      : "",
    ...commands.map((c, i) => (c.unitActive !== undefined ? "" : `if ${c.command}; then echo ${i}=ok; else echo ${i}=fail; ok=0; fi`)),
    // The host's state file holds "PHASE CURRENT CONFIRMED" (homefleet-activate's write_state).
    generation === undefined
      ? ""
      : [
          `hf_phase=; hf_current=; read -r hf_phase hf_current hf_rest 2>/dev/null < "\${HOMEFLEET_STATE_DIR:-${STATE_DIR}}/state"`,
          `echo "${STATE_LINE} $hf_phase $hf_current"`,
          `if [ -n "$hf_phase" ] && { [ "$hf_current" != ${generation} ] || [ "$hf_phase" = rolling-back ]; }; then ok=0; fi`,
        ].join("\n"),
  ]
    .filter(Boolean)
    .join("\n");
  return {
    script,
    parse(out) {
      const states = new Map<number, string>();
      if (unitChecks.length) {
        const lines = out.split("\n");
        const end = lines.indexOf("states-end");
        if (end === unitChecks.length) unitChecks.forEach((u, k) => states.set(u.i, lines[k]));
      }
      const queued = new Set([...out.matchAll(/^job (\S+)$/gm)].map((m) => m[1]));
      const failedUnit = units.some((u) => !queued.has(u) && unitChecks.some((c) => c.unit === u && states.get(c.i) === "failed"));
      const results = commands.map((c, i) => ({ check: c.name, unit: c.unit, ok: c.unitActive !== undefined ? ["active", "reloading"].includes(states.get(i) ?? "") : new RegExp(`^${i}=ok$`, "m").test(out) }));
      // No state file (nothing of homefleet's left on the host, or a layout before it): the round says nothing of where the host is.
      const state = generation === undefined ? undefined : STATE_LINE_READ.exec(out);
      const left = state && (state[2] !== String(generation) || state[1] === "rolling-back") ? `${state[1]} ${state[2]}` : undefined;
      return { results, allOk: results.every((r) => r.ok) && left === undefined, failedUnit, ...(left !== undefined ? { left } : {}) };
    },
  };
}

export interface GateOptions {
  readonly timeoutSec: number;
  /** Units that must run, checked in every round. */
  readonly units?: readonly string[];
  /** Seconds every check must keep passing once all pass. */
  readonly soakSec?: number;
  readonly onRound?: (round: number, passing: number, total: number, soakingSec?: number) => void;
  /** The output of a round the switch's own command already ran (and when): the gate starts from it instead of asking again. */
  readonly firstRound?: { readonly out: string; readonly at: number };
  /**
   * The generation under test (a round made with the same number, for `firstRound`): a round
   * that finds the host off it ends the gate (`leftFor`), its results not counted.
   */
  readonly generation?: number;
}

/**
 * Polls every check until all pass, then keeps polling until they have held for `soakSec`: a
 * service that crashes a few seconds after it first answered fails the gate. Units that must run
 * are checked too, and a unit that has failed for good (not waiting to restart) ends the wait, as
 * does the host leaving the generation under test: its revert timer fired, and whatever the
 * checks say after that is about the generation it went back to.
 */
export async function healthGate(session: HostSession, checks: readonly HealthCheckSpec[], options: GateOptions): Promise<HealthResult> {
  const { timeoutSec, units = [], soakSec = 0, onRound, firstRound, generation } = options;
  const round = gateRound(checks, units, generation);
  const deadline = Date.now() + timeoutSec * 1000;
  let results: { check: string; unit: string; ok: boolean }[] = [];
  let passingSince: number | undefined;
  let heldSec = 0;
  let leftFor: string | undefined;
  for (let n = 1; ; n++) {
    const ran = n === 1 && firstRound ? firstRound : { out: (await session.exec(round.script, undefined, 60)).stdout, at: Date.now() };
    const parsed = round.parse(ran.out);
    if (parsed.left !== undefined) {
      leftFor = parsed.left;
      if (passingSince !== undefined) heldSec = Math.round((ran.at - passingSince) / 1000);
      break;
    }
    results = parsed.results;
    onRound?.(n, results.filter((r) => r.ok).length, results.length, parsed.allOk && soakSec > 0 ? soakSec : undefined);
    if (parsed.allOk) {
      passingSince ??= ran.at;
      heldSec = Math.round((Date.now() - passingSince) / 1000);
      if (Date.now() - passingSince >= soakSec * 1000) break;
    } else if (passingSince !== undefined) {
      // Passed, then failed inside the soak: name when.
      const heldFor = Math.round((Date.now() - passingSince) / 1000);
      results = results.map((r) => (r.ok ? r : { ...r, check: `${r.check} (failed ${heldFor} s after passing)` }));
      break;
    } else if (Date.now() > deadline || parsed.failedUnit) break;
    // Soon after a switch the units are still starting: look again after 0.1 s, then back off to 1 s.
    await new Promise((r) => setTimeout(r, passingSince !== undefined ? 2000 : Math.min(1000, 100 * 2 ** (n - 1))));
  }
  const healthy = leftFor === undefined && results.every((r) => r.ok);
  return {
    verdict: healthy ? "healthy" : "unhealthy",
    checkedAt: new Date().toISOString(),
    checks: results,
    ...(healthy || (leftFor !== undefined && passingSince !== undefined) ? { heldSec } : {}),
    ...(leftFor !== undefined ? { leftFor } : {}),
  };
}

export async function unitStates(session: HostSession, units: readonly string[]): Promise<Record<string, string>> {
  if (!units.length) return {};
  const out = (await session.exec(`systemctl is-active ${units.map(sh).join(" ")}`)).stdout.trim().split("\n");
  return Object.fromEntries(units.map((u, i) => [u, out[i] ?? "unknown"]));
}

async function journalOf(session: HostSession, unit: string): Promise<string> {
  return (await session.exec(`journalctl --no-pager --output=cat -n 25 -u ${sh(unit)}`)).stdout.trim();
}

/** The secrets list a generation carries: hashes and owners, never content. */
export function secretEntries(manifest: HostManifest, secrets: readonly SecretFileContent[]): { entries: SecretEntry[]; digest: string } {
  const restartOf = new Map(manifest.secretFiles.map((s) => [s.path, s.restart ?? []]));
  const entries = [...secrets]
    .sort((a, b) => a.path.localeCompare(b.path))
    .map((s) => ({ path: s.path, mode: s.mode, owner: s.owner, group: s.group, sha256: sha256(s.content), ...(restartOf.get(s.path)?.length ? { restart: restartOf.get(s.path) } : {}) }));
  return { entries, digest: sha256(JSON.stringify(entries.map((e) => [e.path, e.mode, e.owner, e.group, e.sha256]))) };
}

function settings(options: DeployOptions) {
  return {
    confirmAfterSec: options.confirmAfterSec ?? 420,
    healthTimeoutSec: options.healthTimeoutSec ?? 300,
    healthSoakSec: options.healthSoakSec ?? 0,
    keepGenerations: Math.max(2, options.keepGenerations ?? 5),
  };
}

export async function deployHost(target: SshTarget, files: readonly RenderedFile[], manifest: HostManifest, secrets: readonly SecretFileContent[], options: DeployOptions = {}): Promise<DeployResult> {
  options.progress?.({ step: "connecting", address: `${target.address}:${target.port}` });
  const session = await HostSession.connect(target);
  try {
    const { entries, digest } = secretEntries(manifest, secrets);
    const bundle: Bundle = { files, manifest, secrets, entries, digest };
    const wanted: WantedGeneration = { manifest, secrets: entries, secretsDigest: digest };
    // With records of what the host runs, the new generation goes with the lock's command (test
    // hooks between the steps need them apart).
    const guess = options.expected && !options.beforeUpload && !options.afterActivate ? speculativePlan(options.expected, wanted) : undefined;
    const steps = guess && switchSteps(guess, bundle, settings(options), options);
    const speculation: Speculation | undefined = steps?.archive ? { upload: steps.archive, work: steps.command, timeoutSec: steps.timeoutSec, onOutput: steps.onStdout } : undefined;
    // Sent with an upload, or for the same manifest again (a no-op, a repair, a secrets-only
    // change): then a host as expected reports from what prepare saved beside the generation.
    const expected = options.expected;
    const expect: Expectation | undefined =
      expected && (speculation || (expected.generation !== null && expected.manifest?.sha256 === manifest.sha256)) ? { generation: expected.generation, manifestSha256: expected.manifest?.sha256 ?? null } : undefined;
    if (speculation) steps!.begin();
    // Leftovers of cut deployments go first, and a rollback that was cut off is finished: the lock's command does that and reports the state.
    return await underDeployLock(
      session,
      options.holder,
      true,
      async (state, speculated) => {
        if (!state) throw new DeployError(target.host, `${RECOVER_AND_STATUS}: no state came with the lock`);
        if (speculated && guess && steps) {
          // The host found itself as expected and ran the switch: its report must agree.
          if (state.phase !== "confirmed" || state.current !== guess.rollbackTo) throw new DeployError(target.host, `the host switched to the upload sent with the lock although it reports ${state.phase} on generation ${state.current ?? "none"}, not confirmed on ${guess.rollbackTo ?? "none"}`);
          return await execute(session, guess, state, bundle, options, { result: speculated, steps });
        }
        return await execute(session, planDeployment(state, wanted), state, bundle, options);
      },
      options.firstDeployment,
      expect,
      speculation,
    );
  } finally {
    session.close();
  }
}

interface Bundle {
  readonly files: readonly RenderedFile[];
  readonly manifest: HostManifest;
  readonly secrets: readonly SecretFileContent[];
  readonly entries: readonly SecretEntry[];
  readonly digest: string;
}

/**
 * What switching to a plan's generation sends to the host: one command that pulls the images not
 * there yet, reads the upload into a new generation when there is one, switches to it under the
 * revert timer, runs the first health round and, with no soak time, confirms when that round
 * passes; and what the command's output tells the progress display as it comes.
 */
function switchSteps(plan: Extract<DeployPlan, { kind: "switch" }>, bundle: Bundle, s: ReturnType<typeof settings>, options: DeployOptions) {
  const { manifest } = bundle;
  const progress = options.progress ?? (() => undefined);
  // Images first, before the timer runs: a slow pull must not count against it. The pull opens
  // the switch's command (the upload waits in the channel meanwhile): no round trip of its own.
  const pulling = !plan.repair && manifest.images.length > 0;
  const pull = pulling
    ? `if command -v podman >/dev/null; then for image in ${manifest.images.map(sh).join(" ")}; do podman image exists "$image" || podman pull --quiet "$image" >/dev/null || exit ${EXIT_PULL}; done; fi; echo ${PULLED_MARK}; `
    : "";
  // The upload and the switch go in one command: the switch starts as soon as the generation is verified.
  // The first health round rides on the switch's command, and with no soak time so does the
  // confirmation when that round passes: a healthy deploy needs no further round trip. A test
  // hook between the switch and the gate (afterActivate) keeps them apart.
  const chained = options.afterActivate
    ? ""
    : ` || exit $?\necho ${GATE_MARK}\n${gateRound(manifest.healthChecks, manifest.start, plan.generation).script}\n[ "$ok" = 1 ] || exit 0` +
      (s.healthSoakSec === 0 ? `\necho ${CONFIRM_MARK}\n${confirmCommand(plan.generation, s, manifest.start)}` : "");
  const switchCommand = `${ACTIVATE} switch ${plan.generation} ${plan.repair ? 0 : s.confirmAfterSec}${chained}`;
  let archive: Buffer | undefined;
  if (plan.prepare) {
    const byPath = new Map(bundle.files.map((f) => [f.path, f]));
    const secretByPath = new Map(bundle.secrets.map((x) => [x.path, x]));
    archive = createTar([
      { path: "manifest.json", mode: 0o644, content: JSON.stringify(manifest, null, 2) + "\n" },
      ...plan.prepare.files.map((p) => {
        const f = byPath.get(p)!;
        return { path: `files${p}`, mode: parseInt(f.mode, 8), content: f.content };
      }),
      { path: "secrets.json", mode: 0o600, content: JSON.stringify({ digest: bundle.digest, secrets: bundle.entries }, null, 2) + "\n" },
      ...plan.prepare.secrets.map((p) => ({ path: `secrets${p}`, mode: 0o400, content: secretByPath.get(p)!.content })),
    ]);
  }
  const prepared = new RegExp(`^prepared generation ${plan.generation}$`, "m");
  const uploading = () => progress({ step: "uploading", generation: plan.generation, files: plan.prepare!.files.length, bytes: archive!.length });
  const switching = () => progress({ step: "switching", generation: plan.generation, reused: plan.reused ?? false });
  // Where the command is, from its output: pulling, then uploading (when there is an upload), then switching.
  let stage: "pull" | "upload" | "switch" | "announced" = pulling ? "pull" : archive ? "upload" : "switch";
  const onStdout = (soFar: string) => {
    if (stage === "pull") {
      if (!PULLED.test(soFar)) return;
      stage = archive ? "upload" : "switch";
      if (archive) uploading();
    }
    if (stage === "upload" && !prepared.test(soFar)) return;
    if (stage === "announced") return;
    stage = "announced";
    switching();
  };
  /** Announces the first step, before the command is sent. */
  const begin = () => {
    if (pulling) progress({ step: "pulling", images: manifest.images.length });
    else if (archive) uploading();
    onStdout("");
  };
  return {
    pulling,
    timeoutSec: pulling ? 1800 + 900 : 900,
    command: `${pull}${archive ? `${ACTIVATE} prepare ${plan.generation} || exit $?; ` : ""}${switchCommand}`,
    archive,
    /** Matches the output once the host holds the upload as a verified generation. */
    prepared,
    begin,
    onStdout,
    pulled: () => stage !== "pull",
    uploaded: () => stage === "announced" || !archive,
  };
}

/** Carries out one plan; every step names itself in its errors. */
async function execute(
  session: HostSession,
  plan: DeployPlan,
  state: HostState,
  bundle: Bundle,
  options: DeployOptions,
  speculated?: { readonly result: ExecResult; readonly steps: ReturnType<typeof switchSteps> },
): Promise<DeployResult> {
  const host = session.target.host;
  const { manifest } = bundle;
  const s = settings(options);
  if (plan.kind === "refuse") throw new DeployError(host, plan.reason);
  const progress = options.progress ?? (() => undefined);
  const gateOptions = (generation: number, firstRound?: GateOptions["firstRound"]): GateOptions => ({
    timeoutSec: s.healthTimeoutSec,
    units: manifest.start,
    soakSec: s.healthSoakSec,
    onRound: (round, passing, checks, soakingSec) => progress({ step: "health", generation, round, passing, checks, soakingSec }),
    generation,
    ...(firstRound ? { firstRound } : {}),
  });
  if (plan.kind === "noop") {
    progress({ step: "unchanged", generation: plan.generation });
    // The status read under the lock already asked systemd: no second round trip.
    const states = state.units ?? (await unitStates(session, manifest.start));
    const verdict = Object.values(states).every((v) => v === "active") ? "healthy" : "unhealthy";
    return report(session, state, manifest, plan.generation, { changed: false }, { verdict, checkedAt: new Date().toISOString(), checks: [] }, states);
  }
  if (plan.kind === "confirm") {
    // A deployment was cut off after its switch: judge the generation now instead of the timer.
    const health = await healthGate(session, manifest.healthChecks, gateOptions(plan.generation));
    await refuseRevertedWhilePassing(session, plan.generation, health, s);
    if (health.verdict !== "healthy") {
      progress({ step: "rolling-back", generation: plan.generation });
      const outcome = await rollBack(session, plan.generation, s);
      throw new DeployError(host, `generation ${plan.generation} was never confirmed by the deployment that switched to it, and fails its health check "${failedCheck(health)}"; ${outcome}.`);
    }
    progress({ step: "confirming", generation: plan.generation });
    const confirmed = await confirm(session, plan.generation, s, manifest.start);
    return report(session, confirmed, manifest, plan.generation, { changed: true }, health, confirmed.units);
  }

  const { pulling, timeoutSec, command, archive, prepared, begin, onStdout, pulled, uploaded } = speculated?.steps ?? switchSteps(plan, bundle, s, options);
  const pullFailed = (r: ExecResult) => new DeployError(host, `pulling container images failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}; nothing was switched`);
  let switched: ExecResult;
  if (speculated) {
    // The lock's command ran the same command on the host already.
    switched = speculated.result;
  } else {
    if (archive) await options.beforeUpload?.(session);
    begin();
    try {
      switched = await session.exec(command, archive, timeoutSec, onStdout);
    } catch (err) {
      // Cut before the host had the generation: the pull or the upload failed, nothing was switched.
      // (Before the images were confirmed too: the same command was pulling them, and its upload waited.)
      if (archive && !uploaded()) throw new DeployError(host, `uploading the new generation failed${pulled() ? "" : " (the host was still checking its container images)"}: ${(err as Partial<DeployError>).reason ?? (err as Error).message}`);
      throw err;
    }
  }
  if (switched.code === EXIT_PULL && !PULLED.test(switched.stdout)) throw pullFailed(switched);
  if (archive && !prepared.test(switched.stdout)) {
    throw new DeployError(host, `uploading the new generation failed (exit ${switched.code}): ${(switched.stderr || switched.stdout).trim().split("\n").slice(-15).join("\n")}`);
  }
  // The pull's marker is not part of the switch's output.
  if (pulling) switched = { ...switched, stdout: switched.stdout.replace(new RegExp(`^${PULLED_MARK}\n`, "m"), "") };
  const switchedAt = Date.now();
  const chain = splitSwitched(switched);
  const restarted = (chain.switch.stdout.match(/^restarting: (.*)$/m)?.[1] ?? "").split(" ").filter(Boolean);
  await options.afterActivate?.(session);

  const health =
    chain.switch.code === 0
      ? await healthGate(session, manifest.healthChecks, gateOptions(plan.generation, chain.round !== undefined ? { out: chain.round, at: switchedAt } : undefined))
      : { verdict: "unhealthy" as const, checkedAt: new Date().toISOString(), checks: [{ check: "activation", unit: "", ok: false }] };
  await refuseRevertedWhilePassing(session, plan.generation, health, s);
  // The host confirmed only on a round that passed every check, which the gate reads the same way.
  if (chain.confirm && health.verdict !== "healthy") throw new DeployError(host, `generation ${plan.generation} was confirmed on the host although its health round reads as failing: ${JSON.stringify(health.checks)}`);
  if (health.verdict !== "healthy") {
    const failing = health.checks.find((c) => !c.ok);
    const unit = failing?.unit || manifest.start.find((u) => u.startsWith("podman-")) || "";
    const journal = unit ? await journalOf(session, unit) : "";
    if (!plan.repair) progress({ step: "rolling-back", generation: plan.generation });
    const outcome = plan.repair
      ? `it is the confirmed generation, re-installed over hand edits: there is nothing else to go back to, the host stays on it`
      : await rollBack(session, plan.generation, s);
    const activation = chain.switch.code !== 0 ? `\nactivation output:\n${(switched.stderr || switched.stdout).trim().split("\n").slice(-10).join("\n")}` : "";
    throw new DeployError(host, `generation ${plan.generation} failed its health check "${failedCheck(health)}"; ${outcome}.${activation}${unit ? `\nlast journal lines of ${unit}:\n${journal}` : ""}`);
  }
  progress({ step: "confirming", generation: plan.generation });
  // A repair re-installed the confirmed generation: confirm finds it confirmed already and only drops old generations.
  const now = await confirm(session, plan.generation, s, manifest.start, chain.confirm);
  const secretsWritten = plan.prepare ? [...plan.prepare.secrets] : [];
  return report(session, now, manifest, plan.generation, { changed: true, uploadedFiles: plan.prepare?.files ?? [], reusedGeneration: plan.reused, secretsWritten, restarted }, health, now.units);
}

/** Markers between the switch's output, the health round after it and the confirmation after that. */
const GATE_MARK = "homefleet:health-round";
/** Printed once the images are there, before the upload is read. */
const PULLED_MARK = "homefleet:images-pulled";
const PULLED = new RegExp(`^${PULLED_MARK}$`, "m");
const CONFIRM_MARK = "homefleet:confirm";

/**
 * The switch command's result in its parts: the switch's own (exit 0 once the round began),
 * the first health round's output, and the confirmation's result when it ran.
 */
export function splitSwitched(r: ExecResult): { switch: ExecResult; round?: string; confirm?: ExecResult } {
  const gate = r.stdout.search(new RegExp(`^${GATE_MARK}$`, "m"));
  if (gate < 0) return { switch: r };
  const confirmAt = r.stdout.search(new RegExp(`^${CONFIRM_MARK}$`, "m"));
  const round = r.stdout.slice(gate + GATE_MARK.length + 1, confirmAt < 0 ? undefined : confirmAt);
  return {
    switch: { code: 0, stdout: r.stdout.slice(0, gate), stderr: r.stderr },
    round,
    ...(confirmAt < 0 ? {} : { confirm: { code: r.code, stdout: r.stdout.slice(confirmAt + CONFIRM_MARK.length + 1), stderr: r.stderr } }),
  };
}

/**
 * The revert timer rolled the generation back while its gate was passing or had not judged it yet
 * (a soak, or a first round, longer than confirmAfterSec allows): nothing failed. Waits for the
 * timer's rollback to end (a rollback that was cut off is finished), then says so and what the host
 * runs. A gate that saw a check fail before the timer fired is reported as failing that check, by
 * the caller.
 */
async function refuseRevertedWhilePassing(session: HostSession, generation: number, health: HealthResult, s: ReturnType<typeof settings>): Promise<void> {
  if (health.leftFor === undefined || health.checks.some((c) => !c.ok)) return;
  const outcome = await rollBack(session, generation, s);
  const judged = health.checks.length === 0 ? "had no health round finish on it" : `passed its health checks${health.heldSec !== undefined ? ` for ${health.heldSec} s` : ""}`;
  throw new DeployError(session.target.host, `generation ${generation} ${judged} but was not confirmed before its revert timer fired (confirmAfterSec ${s.confirmAfterSec} s); ${outcome}.`);
}

function failedCheck(health: HealthResult): string {
  return health.checks.find((c) => !c.ok)?.check ?? "activation";
}

/** What the host runs after a confirmation: its phase and generations, and its units' states. */
interface Confirmed {
  readonly phase: HostState["phase"];
  readonly current: number | null;
  readonly units: Record<string, string>;
}

/** The host command that confirms a generation, drops old ones and prints the units' states. */
function confirmCommand(generation: number, s: ReturnType<typeof settings>, units: readonly string[]): string {
  const states = units.length ? `; echo units:; systemctl is-active -- ${units.map(sh).join(" ")}` : "";
  return `${ACTIVATE} confirm ${generation} ${s.keepGenerations} || exit $?${states}`;
}

/**
 * Confirms a generation and drops old ones (one locked command on the host), then asks systemd
 * for the units' states, in one round trip; when the revert timer won the race, says what the
 * host runs instead. `ran`: the confirmation's output when the switch's command already ran it.
 */
async function confirm(session: HostSession, generation: number, s: ReturnType<typeof settings>, units: readonly string[], ran?: ExecResult): Promise<Confirmed> {
  const r = ran ?? (await session.exec(confirmCommand(generation, s, units), undefined, 900));
  if (r.code === EXIT_STALE) {
    const now = await readState(session, "reading the host's state after a refused confirmation");
    throw new DeployError(session.target.host, `generation ${generation} passed its health gate but was rolled back by its revert timer before the confirmation (confirmAfterSec ${s.confirmAfterSec} s); the host runs generation ${now.current ?? "none"} (${now.phase}).`);
  }
  // systemctl is-active exits non-zero when a unit is not active: its lines say which.
  const now = r.stdout.match(/^now: (\S+) (\S+) (\S+)$/m);
  if (!now || (r.code !== 0 && !/^units:$/m.test(r.stdout))) throw new DeployError(session.target.host, `confirming generation ${generation} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" / ")}`);
  const lines = r.stdout.slice(r.stdout.search(/^units:$/m) + "units:\n".length).split("\n");
  return {
    phase: now[1] as HostState["phase"],
    current: now[2] === "-" ? null : Number(now[2]),
    units: Object.fromEntries(units.map((u, i) => [u, lines[i] || "unknown"])),
  };
}

/**
 * Rolls a failed generation back (the host goes to its last confirmed generation, or to nothing
 * installed), then says what the host really runs and whether that serves.
 */
async function rollBack(session: HostSession, generation: number, s: ReturnType<typeof settings>): Promise<string> {
  const r = await session.exec(`${ACTIVATE} rollback ${generation}`, undefined, 900);
  const now = await readState(session, "reading the host's state after the rollback");
  if (r.code !== 0) return `ROLLBACK FAILED (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" / ")}; the host is ${now.phase} on generation ${now.current ?? "none"}`;
  // The host's answer says who rolled back: this call, or the revert timer before it.
  const byTimer = /^nothing to roll back/m.test(r.stdout);
  if (now.current === null) return `${byTimer ? "the revert timer had removed it already" : "removed it again"} (no generation was ever confirmed on this host): the host runs nothing of homefleet's`;
  const running = now.manifest;
  const rolledBack = byTimer ? `the revert timer had rolled it back already: the host runs generation ${now.current}` : `rolled back to generation ${now.current}`;
  if (!running) return `${rolledBack}, whose manifest is unreadable`;
  const again = await healthGate(session, running.healthChecks, { timeoutSec: s.healthTimeoutSec, units: running.start });
  return `${rolledBack}, which is ${again.verdict}` + (again.verdict === "healthy" ? "" : ` (failing: ${again.checks.filter((c) => !c.ok).map((c) => c.check).join(", ")})`);
}

/** The report of a deployment: the generation as the host reported it after the deployment (`now`). */
function report(
  session: HostSession,
  now: Pick<HostState, "phase" | "current">,
  manifest: HostManifest,
  generation: number,
  done: { changed: boolean; uploadedFiles?: readonly string[]; reusedGeneration?: boolean; secretsWritten?: readonly string[]; restarted?: readonly string[] },
  health: HealthResult,
  states: Record<string, string>,
): DeployResult {
  if (now.current !== generation || now.phase !== "confirmed") {
    throw new DeployError(session.target.host, `the deployment of generation ${generation} finished, but the host reports generation ${now.current ?? "none"} (${now.phase})`);
  }
  return {
    host: session.target.host,
    generation,
    manifestSha256: manifest.sha256,
    changed: done.changed,
    uploadedFiles: done.uploadedFiles ?? [],
    reusedGeneration: done.reusedGeneration ?? false,
    secretsWritten: done.secretsWritten ?? [],
    restarted: done.restarted ?? [],
    bytesSent: session.bytesSent,
    sshConnections: 1,
    commands: session.commands,
    health,
    unitStates: states,
    hostKey: session.hostKey,
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

/**
 * Stops and disables the units of every generation kept on the host, removes their files,
 * secrets and bridges and homefleet's own state; data and backups stay. Under the deploy lock.
 */
export async function removeHost(target: SshTarget, holder?: string): Promise<void> {
  const session = await HostSession.connect(target);
  try {
    await underDeployLock(session, holder, false, () => session.run("removing homefleet from the host", `${ACTIVATE} remove`, undefined, 900));
  } finally {
    session.close();
  }
}
