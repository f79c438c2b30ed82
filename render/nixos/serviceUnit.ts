/**
 * ServiceUnitSpec / TimerSpec → NixOS `systemd.services.<name>` / `systemd.timers.<name>`.
 * Script programs become `writeShellApplication` store paths bound in the module's `let`.
 */
import type { HardeningDirectives } from "../../model/hardening";
import type { ExecSpec, ServiceUnitSpec, TimerSpec } from "../../model/specs";
import { NixExpr, type NixValue } from "../nix/writer";
import { scriptNamed } from "../scripts/registry";
import { execArg } from "../systemd/unitWriter";

/** Per script, for the process: every host's modules name the same few scripts. */
const BINDING_NAMES = new Map<string, string>();
const DERIVATIONS = new Map<string, NixExpr>();

/** `homefleet-backup-redis` → `homefleetBackupRedis`, the let-binding of the script's derivation. */
export function scriptBindingName(script: string): string {
  let binding = BINDING_NAMES.get(script);
  if (binding === undefined) BINDING_NAMES.set(script, (binding = script.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())));
  return binding;
}

/**
 * A homefleet script as a `writeShellApplication` derivation; `postgresql` is the host's
 * package. The same text on every host: built and written once per script.
 */
export function scriptDerivation(name: string): NixValue {
  let derivation = DERIVATIONS.get(name);
  if (!derivation) {
    const script = scriptNamed(name);
    derivation = NixExpr.remembered(
      NixExpr.call("pkgs.writeShellApplication", {
        name: script.name,
        runtimeInputs: script.nixRuntimeInputs.map((p) => NixExpr.ref(p === "postgresql" ? "config.services.postgresql.package" : `pkgs.${p}`)),
        text: NixExpr.call("builtins.readFile", NixExpr.relativePath(`./scripts/${script.name}.sh`)),
      }),
    );
    DERIVATIONS.set(name, derivation);
  }
  return derivation;
}

/** An Exec*= value: a store path plus arguments escaped for systemd. */
export function nixExec(exec: ExecSpec): NixExpr {
  const args = exec.args.map((a) => " " + execArg(a)).join("");
  const prefix = exec.ignoreFailure ? "-" : exec.privileged ? "+" : "";
  if ("script" in exec.program) {
    return NixExpr.interpolate([prefix, NixExpr.ref(scriptBindingName(exec.program.script)), `/bin/${exec.program.script}${args}`]);
  }
  const nix = exec.program.nix;
  if (!nix) throw new Error(`no nixpkgs package for the program ${exec.program.debian}`);
  return NixExpr.interpolate([prefix, NixExpr.ref(`pkgs.${nix.pkg}`), `/bin/${nix.bin}${args}`]);
}

/** systemd directive values as NixOS serviceConfig: lists stay lists, "yes"/"no" become booleans. */
export function nixServiceConfig(directives: HardeningDirectives | Readonly<Record<string, string | number>>): Record<string, NixValue> {
  // The hardening profiles are a few shared objects: each is converted once (callers spread the result).
  const known = SERVICE_CONFIGS.get(directives);
  if (known) return known;
  const out: Record<string, NixValue> = {};
  for (const [k, v] of Object.entries(directives)) {
    if (Array.isArray(v)) out[k] = v as readonly string[];
    else if (v === "yes") out[k] = true;
    else if (v === "no") out[k] = false;
    else out[k] = v as string | number;
  }
  SERVICE_CONFIGS.set(directives, out);
  return out;
}

const SERVICE_CONFIGS = new WeakMap<object, Record<string, NixValue>>();

export function nixService(spec: ServiceUnitSpec): NixValue {
  const list = (xs?: readonly string[]) => (xs?.length ? [...xs] : undefined);
  return {
    description: spec.description,
    after: list(spec.after),
    before: list(spec.before),
    requires: list(spec.requires),
    partOf: list(spec.partOf),
    wants: list(spec.wants),
    wantedBy: list(spec.wantedBy),
    unitConfig: spec.requiresMountsFor?.length ? { RequiresMountsFor: [...spec.requiresMountsFor] } : undefined,
    environment: spec.environment && Object.keys(spec.environment).length ? { ...spec.environment } : undefined,
    serviceConfig: {
      Type: spec.type,
      RemainAfterExit: spec.remainAfterExit,
      User: spec.user,
      Group: spec.group,
      EnvironmentFile: list(spec.environmentFiles),
      LoadCredential: spec.credentials?.length ? spec.credentials.map((c) => `${c.name}:${c.path}`) : undefined,
      StateDirectory: spec.stateDirectory,
      ExecStartPre: spec.execStartPre?.length ? spec.execStartPre.map(nixExec) : undefined,
      ExecStart: spec.execStart.map(nixExec),
      ExecStartPost: spec.execStartPost?.length ? spec.execStartPost.map(nixExec) : undefined,
      ExecStopPost: spec.execStopPost?.length ? spec.execStopPost.map(nixExec) : undefined,
      ReadWritePaths: list(spec.readWritePaths),
      ...nixServiceConfig(spec.service ?? {}),
      ...nixServiceConfig(spec.hardening),
    },
  };
}

export function nixTimer(spec: TimerSpec): NixValue {
  return {
    description: spec.description,
    wantedBy: ["timers.target"],
    timerConfig: {
      OnCalendar: spec.onCalendar,
      Persistent: spec.persistent,
      RandomizedDelaySec: `${spec.randomizedDelaySec}s`,
    },
  };
}
