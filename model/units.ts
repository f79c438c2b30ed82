/**
 * Flavour-neutral units that homefleet writes itself (backups, certificate renewal, exporters,
 * checks). One spec renders to a Debian unit file and to a NixOS `systemd.services.<name>`
 * attribute set, so both flavours run the same command with the same hardening, and the
 * exposure score measured on the unit file holds for both.
 */
import type { HardeningDirectives } from "./hardening";

/** A program on the host: a homefleet script by name, or a packaged binary. */
export type ProgramRef =
  | { readonly script: string }
  | {
      /** Absolute path on Debian, e.g. /usr/bin/prometheus-node-exporter. */
      readonly debian: string;
      /** nixpkgs attribute and binary, e.g. { pkg: "prometheus-node-exporter", bin: "node_exporter" }. */
      readonly nix: { readonly pkg: string; readonly bin: string };
    };

export interface ExecSpec {
  readonly program: ProgramRef;
  readonly args: readonly string[];
  /** `-`: a failure does not fail the unit. */
  readonly ignoreFailure?: boolean;
  /** `+`: runs as root without the unit's sandbox (only for a step that needs it, e.g. creating its directories). */
  readonly privileged?: boolean;
}

export interface ServiceUnitSpec {
  /** Unit name without `.service`. */
  readonly name: string;
  readonly description: string;
  readonly type: "oneshot" | "simple" | "notify" | "exec";
  readonly user?: string;
  readonly group?: string;
  /** Several only for oneshot units: they run in order, and the first failure stops the rest. */
  readonly execStart: readonly ExecSpec[];
  readonly execStartPre?: readonly ExecSpec[];
  readonly execStartPost?: readonly ExecSpec[];
  /** LoadCredential=NAME:PATH, the way secrets reach a unit (never Environment=). */
  readonly credentials?: readonly { readonly name: string; readonly path: string }[];
  /** Root-only files systemd reads before dropping privileges. */
  readonly environmentFiles?: readonly string[];
  /** Non-secret environment. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly after?: readonly string[];
  readonly requires?: readonly string[];
  readonly wants?: readonly string[];
  readonly wantedBy?: readonly string[];
  /**
   * Directories whose filesystem must be mounted first (RequiresMountsFor=): a backup directory
   * on a pool that is absent fails the job instead of filling the root disk.
   */
  readonly requiresMountsFor?: readonly string[];
  /** Directories the unit may write; everything else is read-only (ProtectSystem=strict). */
  readonly readWritePaths?: readonly string[];
  readonly stateDirectory?: string;
  readonly hardening: HardeningDirectives;
  /** Other [Service] settings: Restart, RestartSec, TimeoutStartSec, Nice, IOSchedulingClass, ... */
  readonly service?: Readonly<Record<string, string | number>>;
  /** Comment lines: why the unit exists. */
  readonly why: readonly string[];
}

export interface TimerSpec {
  /** Timer name without `.timer`; it starts the service of the same name. */
  readonly name: string;
  readonly description: string;
  /** systemd calendar expression, e.g. `*-*-* 02:00:00`. */
  readonly onCalendar: string;
  /** Catch up on a run missed while the host was off (seed 001). */
  readonly persistent: boolean;
  /** Spreads load across hosts; kept below the gap to the next job of the host. */
  readonly randomizedDelaySec: number;
}

export interface OperationsUnits {
  readonly services: readonly ServiceUnitSpec[];
  readonly timers: readonly TimerSpec[];
}
