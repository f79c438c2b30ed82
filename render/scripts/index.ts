import { hostScriptText } from "./files";

/**
 * Shell scripts homefleet installs on hosts, each a real file `render/scripts/<name>.sh` (read
 * once at load, see ./files.ts). They take every value as an argument or from a systemd
 * credential, never by text substitution into the script, so no user value is ever parsed as
 * shell. Each one is checked by shellcheck as committed (tests/hostScripts.test.ts).
 */

export interface ScriptSpec {
  /** File and command name, e.g. `homefleet-network`. */
  readonly name: string;
  /** Commands the script runs, as NixOS runtimeInputs (package attribute names). */
  readonly nixRuntimeInputs: readonly string[];
  readonly text: string;
}

export const networkScript: ScriptSpec = {
  name: "homefleet-network",
  nixRuntimeInputs: ["iproute2"],
  text: hostScriptText("homefleet-network.sh"),
};

export const waitHttpScript: ScriptSpec = {
  name: "homefleet-wait-http",
  nixRuntimeInputs: ["curl", "coreutils"],
  text: hostScriptText("homefleet-wait-http.sh"),
};

export const postgresRoleScript: ScriptSpec = {
  name: "homefleet-postgresql-role",
  nixRuntimeInputs: ["postgresql", "coreutils"],
  text: hostScriptText("homefleet-postgresql-role.sh"),
};

/** Writes a scheduled job's last run, status and last success as metrics (its unit's ExecStopPost=). */
export const jobMetricsScript: ScriptSpec = {
  name: "homefleet-job-metrics",
  nixRuntimeInputs: ["coreutils", "gnugrep"],
  text: hostScriptText("homefleet-job-metrics.sh"),
};

export const ALL_SCRIPTS: readonly ScriptSpec[] = [networkScript, waitHttpScript, postgresRoleScript, jobMetricsScript];
