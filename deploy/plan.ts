/**
 * What a deployment does to a host, decided from what the host reports (its state machine and
 * generations) and what the program wants. Pure: every case is a unit test; the executor
 * (deployHost.ts) only carries a plan out.
 */
import type { HostManifest } from "../bundle/hostBundle";

/** The host side's phases (render/scripts/homefleet-activate.sh). */
export type HostPhase = "confirmed" | "switching" | "armed" | "rolling-back";

/** `homefleet-activate status`, parsed. */
export interface HostState {
  readonly phase: HostPhase;
  /** The generation installed now (null: nothing of homefleet's). */
  readonly current: number | null;
  /** The last generation confirmed healthy: where every rollback goes (null: to nothing installed). */
  readonly confirmed: number | null;
  /** The current generation's manifest; null when none is installed or it is damaged. */
  readonly manifest: HostManifest | null;
  /** Installed file path → sha256 on disk, or "missing" (the current generation's files). */
  readonly files: Readonly<Record<string, string>>;
  /** Installed secret path → sha256 on disk, or "missing" (the current generation's secrets). */
  readonly secrets: Readonly<Record<string, string>>;
  /** The current generation's units to start → `systemctl is-active` (absent from hosts with an older homefleet-activate). */
  readonly units?: Readonly<Record<string, string>>;
  /** Every kept generation → its manifest sha256 and secrets digest, or "damaged". */
  readonly generations: Readonly<Record<string, { readonly manifest: string; readonly secrets: string } | "damaged">>;
  /** The revert timer is running. */
  readonly armed: boolean;
  /** Who holds the deploy lock, when someone does. */
  readonly holder: string | null;
}

/** One secret as a generation lists it: never its content. */
export interface SecretEntry {
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly sha256: string;
  readonly restart?: readonly string[];
}

/** What the program wants on the host. */
export interface WantedGeneration {
  readonly manifest: HostManifest;
  readonly secrets: readonly SecretEntry[];
  /** One value for the secrets list (paths, modes, owners and content hashes). */
  readonly secretsDigest: string;
}

export type DeployPlan =
  /** The host runs exactly this, confirmed, and nothing on disk differs. */
  | { readonly kind: "noop"; readonly generation: number }
  /**
   * The host runs this generation but it was never confirmed (a deployer cut off after the switch):
   * gate on health and confirm it, or roll it back, instead of leaving the timer to judge.
   */
  | { readonly kind: "confirm"; readonly generation: number; readonly rollbackTo: number | null }
  | {
      readonly kind: "switch";
      readonly generation: number;
      /** Upload a new generation with these files and secrets; absent: the generation is on the host. */
      readonly prepare?: { readonly files: readonly string[]; readonly secrets: readonly string[] };
      /** An earlier generation kept on the host holds exactly this: switched to again, nothing uploaded. */
      readonly reused: boolean;
      /** Re-installing the confirmed generation over hand edits: no timer, nothing else to go back to. */
      readonly repair: boolean;
      /** Where a failure goes back to: the last confirmed generation, or null for nothing installed. */
      readonly rollbackTo: number | null;
    }
  /** Nothing may be done: the reason names what to do about it. */
  | { readonly kind: "refuse"; readonly reason: string };

function matches(entry: HostState["generations"][string] | undefined, wanted: WantedGeneration): boolean {
  return entry !== undefined && entry !== "damaged" && entry.manifest === wanted.manifest.sha256 && entry.secrets === wanted.secretsDigest;
}

/** Files and secrets on disk that differ from the current generation's (hand edits, deletions). */
export function driftOf(host: HostState, wanted: WantedGeneration): string[] {
  const drift: string[] = [];
  for (const f of wanted.manifest.files) if (host.files[f.path] !== f.sha256) drift.push(f.path);
  for (const s of wanted.secrets) if (host.secrets[s.path] !== s.sha256) drift.push(s.path);
  return drift;
}

export function planDeployment(host: HostState, wanted: WantedGeneration): DeployPlan {
  const confirmedEntry = host.confirmed !== null ? host.generations[String(host.confirmed)] : undefined;
  if (host.confirmed !== null && (confirmedEntry === undefined || confirmedEntry === "damaged")) {
    return {
      kind: "refuse",
      reason:
        `generation ${host.confirmed}, the last one confirmed healthy and the target of any rollback, is ` +
        `${confirmedEntry === "damaged" ? "damaged (its manifest.json or secrets.json does not parse)" : "missing"} in /var/lib/homefleet/generations. ` +
        `Nothing was changed. To deploy as onto a host homefleet never ran on (a failure then removes homefleet's units instead of going back), ` +
        `move that generation away and remove /var/lib/homefleet/state on the host.`,
    };
  }
  if (host.phase === "rolling-back") {
    return { kind: "refuse", reason: `an interrupted rollback of generation ${host.current} to ${host.confirmed ?? "nothing installed"} could not be finished (see the journal of homefleet-activate on the host). Nothing was changed.` };
  }
  const currentEntry = host.current !== null ? host.generations[String(host.current)] : undefined;
  const runsWanted = host.current !== null && matches(currentEntry, wanted) && host.manifest !== null;
  const drift = runsWanted ? driftOf(host, wanted) : [];

  if (runsWanted && drift.length === 0) {
    if (host.phase === "confirmed") return { kind: "noop", generation: host.current! };
    if (host.phase === "armed") return { kind: "confirm", generation: host.current!, rollbackTo: host.confirmed };
  }
  if (runsWanted && host.phase === "confirmed") {
    return { kind: "switch", generation: host.current!, reused: false, repair: true, rollbackTo: host.current };
  }
  // An unconfirmed or half-installed current generation that is what we want: install it again
  // under a fresh timer (its own files may be incomplete).
  if (runsWanted) return { kind: "switch", generation: host.current!, reused: false, repair: false, rollbackTo: host.confirmed };

  const kept = Object.keys(host.generations)
    .map(Number)
    .sort((a, b) => b - a)
    .find((g) => g !== host.current && matches(host.generations[String(g)], wanted));
  if (kept !== undefined) return { kind: "switch", generation: kept, reused: true, repair: false, rollbackTo: host.confirmed };

  // A new generation: upload only what the current one does not hold (all of it when the
  // current generation is unreadable), numbered above every kept one: numbers are never reused.
  const heldFiles = new Map((host.manifest?.files ?? []).map((f) => [f.path, f.sha256]));
  const files = wanted.manifest.files.filter((f) => heldFiles.get(f.path) !== f.sha256).map((f) => f.path);
  // A secret whose installed copy already has the wanted content is linked from the current generation.
  const secrets = wanted.secrets.filter((s) => !host.manifest || host.secrets[s.path] !== s.sha256).map((s) => s.path);
  const generation = Math.max(host.current ?? 0, host.confirmed ?? 0, ...Object.keys(host.generations).map(Number)) + 1;
  return { kind: "switch", generation, prepare: { files, secrets }, reused: false, repair: false, rollbackTo: host.confirmed };
}

/** What a deployer's own records say it last left on a host: confirmed on `generation` with `manifest`. */
export interface ExpectedHost {
  readonly generation: number | null;
  readonly manifest: Pick<HostManifest, "sha256" | "files"> | null;
}

/**
 * The plan a deployment would get if the host is as the deployer's records say (`expected`),
 * made before asking the host, so that the upload can go with the lock's first command: a new
 * generation numbered after the expected one, with the files that differ from the expected
 * manifest and every secret (the records hold no secret hashes; secrets are small). None when the
 * wanted manifest is the expected one (a repair over hand edits or a secrets-only change: the
 * host's report decides those) or the records are incomplete. The host runs it only when it is
 * confirmed on exactly that generation and manifest and keeps no later generation; otherwise the
 * deployment plans from the host's report (planDeployment) as without it.
 */
export function speculativePlan(expected: ExpectedHost, wanted: WantedGeneration): Extract<DeployPlan, { kind: "switch" }> | undefined {
  if ((expected.generation === null) !== (expected.manifest === null)) return undefined;
  if (expected.manifest?.sha256 === wanted.manifest.sha256) return undefined;
  const held = new Map((expected.manifest?.files ?? []).map((f) => [f.path, f.sha256]));
  return {
    kind: "switch",
    generation: (expected.generation ?? 0) + 1,
    prepare: { files: wanted.manifest.files.filter((f) => held.get(f.path) !== f.sha256).map((f) => f.path), secrets: wanted.secrets.map((s) => s.path) },
    reused: false,
    repair: false,
    rollbackTo: expected.generation,
  };
}
