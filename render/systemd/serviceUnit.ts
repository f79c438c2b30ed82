/**
 * ServiceUnitSpec / TimerSpec → Debian unit files.
 */
import { SCRIPT_DIR, UNIT_DIR } from "../../model/paths";
import type { ExecSpec, ServiceUnitSpec, TimerSpec } from "../../model/specs";
import type { RenderedFile } from "../types";
import { renderUnitFile, type ExecCommand, type UnitSection } from "./unitWriter";

/** An explicit PATH, so no unit depends on whatever PATH systemd was started with. */
export const SAFE_PATH = { envName: "PATH", envValue: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

export function debianExec(exec: ExecSpec): ExecCommand {
  const p = exec.program;
  // A Debian host's job always has the Debian path (config/load.ts jobChecks refuses it otherwise).
  const exe = "script" in p ? `${SCRIPT_DIR}/${p.script}` : p.debian;
  if (exe === undefined) throw new Error(`no Debian path in ${JSON.stringify(p)}`);
  return { argv: [exe, ...exec.args], prefix: exec.ignoreFailure ? "-" : exec.privileged ? "+" : "" };
}

const HAND_EDITS = "Hand edits are reported as drift and replaced on the next deployment.";
const managedHeader = [`Managed by homefleet. ${HAND_EDITS}`];

/** A unit with a summary says what it is first; the others say why they exist first. */
function headerOf(spec: ServiceUnitSpec): string[] {
  return spec.summary ? [`Managed by homefleet: ${spec.summary}.`, HAND_EDITS, ...spec.why] : [...spec.why, ...managedHeader];
}

export function renderServiceUnit(spec: ServiceUnitSpec): RenderedFile {
  const unit: UnitSection = {
    Description: spec.description,
    Wants: spec.wants?.length ? [...spec.wants] : undefined,
    After: spec.after?.length ? [...spec.after] : undefined,
    Before: spec.before?.length ? [...spec.before] : undefined,
    Requires: spec.requires?.length ? [...spec.requires] : undefined,
    PartOf: spec.partOf?.length ? [...spec.partOf] : undefined,
    RequiresMountsFor: spec.requiresMountsFor?.length ? [...spec.requiresMountsFor] : undefined,
  };
  const env = [SAFE_PATH, ...Object.keys(spec.environment ?? {}).sort().map((k) => ({ envName: k, envValue: (spec.environment as Record<string, string>)[k] }))];
  const service: UnitSection = {
    Type: spec.type,
    RemainAfterExit: spec.remainAfterExit,
    User: spec.user,
    Group: spec.group,
    Environment: env,
    EnvironmentFile: spec.environmentFiles?.length ? [...spec.environmentFiles] : undefined,
    LoadCredential: spec.credentials?.length ? spec.credentials.map((c) => `${c.name}:${c.path}`) : undefined,
    StateDirectory: spec.stateDirectory,
    ExecStartPre: spec.execStartPre?.length ? spec.execStartPre.map(debianExec) : undefined,
    ExecStart: spec.execStart.map(debianExec),
    ExecStartPost: spec.execStartPost?.length ? spec.execStartPost.map(debianExec) : undefined,
    ExecStopPost: spec.execStopPost?.length ? spec.execStopPost.map(debianExec) : undefined,
    ...(spec.service ?? {}),
    ReadWritePaths: spec.readWritePaths?.length ? [...spec.readWritePaths] : undefined,
    ...spec.hardening,
  };
  const sections: Record<string, UnitSection> = { Unit: unit, Service: service };
  if (spec.wantedBy?.length) sections.Install = { WantedBy: [...spec.wantedBy] };
  return { path: `${UNIT_DIR}/${spec.name}.service`, mode: "0644", content: renderUnitFile({ header: headerOf(spec), sections }) };
}

export function renderTimerUnit(spec: TimerSpec): RenderedFile {
  return {
    path: `${UNIT_DIR}/${spec.name}.timer`,
    mode: "0644",
    content: renderUnitFile({
      header: managedHeader,
      sections: {
        Unit: { Description: spec.description },
        Timer: {
          OnCalendar: spec.onCalendar,
          Persistent: spec.persistent,
          RandomizedDelaySec: `${spec.randomizedDelaySec}s`,
          Unit: `${spec.name}.service`,
        },
        Install: { WantedBy: "timers.target" },
      },
    }),
  };
}
