/**
 * The health round that rides on the switch's command decides on the host whether to confirm
 * (`ok=1`); the deployer reads the same output to judge the round. Both must agree on every
 * outcome, or a host could confirm a generation the deployer then rolls back. Runs the real
 * round script in sh with a stand-in `systemctl` and check commands on PATH.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gateRound, splitSwitched } from "../deploy/deployHost";
import type { HealthCheckSpec } from "../model/specs";

/**
 * systemctl is-active -- UNITS: each unit's state from $STATE_<unit with . and - as _>;
 * systemctl list-jobs --no-legend UNITS: a job line for each unit named in $JOBS.
 */
const SYSTEMCTL = `#!/bin/sh
if [ "$1" = list-jobs ]; then
  shift; [ "$1" = --no-legend ] && shift
  n=100; for u in "$@"; do case " \${JOBS:-} " in *" $u "*) n=$((n + 1)); echo "$n $u restart running" ;; esac; done
  exit 0
fi
[ "$1" = is-active ] || exit 2
shift; [ "$1" = -- ] && shift
rc=3
for u in "$@"; do v=$(echo "STATE_$u" | tr .- __); eval "st=\\\${$v:-inactive}"; echo "$st"; [ "$st" = active ] && rc=0; done
exit $rc
`;

let bin: string;
beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), "homefleet-gate-"));
  writeFileSync(
    join(bin, "systemctl"),
    SYSTEMCTL,
  );
  // curl ... URL: passes when $CURL_OK is 1.
  writeFileSync(join(bin, "curl"), `#!/bin/sh\n[ "\${CURL_OK:-0}" = 1 ]\n`);
  for (const f of ["systemctl", "curl"]) chmodSync(join(bin, f), 0o755);
});
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function runRound(script: string, env: Record<string, string>): { out: string; hostOk: boolean } {
  const out = execFileSync("sh", ["-c", `${script}\necho "host-ok=$ok"`], { env: { PATH: `${bin}:/usr/bin:/bin`, ...env }, encoding: "utf8" });
  const hostOk = /^host-ok=1$/m.test(out);
  return { out: out.replace(/^host-ok=.*\n/m, ""), hostOk };
}

const http: HealthCheckSpec = { kind: "http", unit: "podman-app.service", url: "http://127.0.0.1:4000/health", timeoutSec: 60 } as HealthCheckSpec;
const units = ["podman-app.service", "redis-app.service"];

describe("the health round on the host and in the deployer", () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ["all active, the HTTP check passes", { STATE_podman_app_service: "active", STATE_redis_app_service: "active", CURL_OK: "1" }, true],
    ["a unit reloading counts as running", { STATE_podman_app_service: "reloading", STATE_redis_app_service: "active", CURL_OK: "1" }, true],
    ["one unit still activating", { STATE_podman_app_service: "active", STATE_redis_app_service: "activating", CURL_OK: "1" }, false],
    ["one unit failed", { STATE_podman_app_service: "failed", STATE_redis_app_service: "active", CURL_OK: "1" }, false],
    ["units up, HTTP check failing", { STATE_podman_app_service: "active", STATE_redis_app_service: "active", CURL_OK: "0" }, false],
  ];
  it.each(cases)("%s", (_name, env, expected) => {
    const round = gateRound([http], units);
    const { out, hostOk } = runRound(round.script, env);
    const parsed = round.parse(out);
    expect(parsed.allOk).toBe(expected);
    expect(hostOk).toBe(expected);
    expect(parsed.failedUnit).toBe(env.STATE_podman_app_service === "failed");
  });

  it("agrees when systemctl prints fewer lines than units (the deployer and the host both fail the round)", () => {
    const round = gateRound([], units);
    const { out } = runRound(round.script, {});
    const truncated = out.replace(/^inactive\n/m, "");
    expect(round.parse(truncated).allOk).toBe(false);
    // On the host: a systemctl that prints one line for two units.
    writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho active\n`);
    try {
      const short = runRound(round.script, {});
      expect(short.hostOk).toBe(false);
      expect(round.parse(short.out).allOk).toBe(false);
    } finally {
      writeFileSync(
        join(bin, "systemctl"),
        SYSTEMCTL,
      );
    }
  });

  it.each([
    ["with no job queued: failed for good, the gate stops waiting", "", true],
    ["with a restart queued (its stop ended in failure): on its way back, the gate waits", "podman-app.service", false],
  ])("a failed unit %s", (_name, jobs, failedForGood) => {
    const round = gateRound([http], units);
    const { out, hostOk } = runRound(round.script, { STATE_podman_app_service: "failed", STATE_redis_app_service: "active", CURL_OK: "1", JOBS: jobs });
    const parsed = round.parse(out);
    expect(parsed.failedUnit).toBe(failedForGood);
    expect(parsed.allOk).toBe(false);
    expect(hostOk).toBe(false);
  });

  it("asks for jobs only when a unit is failed", () => {
    const round = gateRound([http], units);
    const { out } = runRound(round.script, { STATE_podman_app_service: "activating", STATE_redis_app_service: "active", CURL_OK: "1", JOBS: "podman-app.service" });
    expect(out).not.toMatch(/^job /m);
  });

  it("a host with nothing to check passes the round", () => {
    const round = gateRound([], []);
    const { out, hostOk } = runRound(round.script, {});
    expect(hostOk).toBe(true);
    expect(round.parse(out).allOk).toBe(true);
  });
});

describe("a round that checks one generation reads where the host is once its checks have run", () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), "homefleet-gate-state-"));
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));
  const healthy = { STATE_podman_app_service: "active", STATE_redis_app_service: "active", CURL_OK: "1" };

  const cases: [string, string | undefined, string | undefined][] = [
    ["armed on the generation: the round counts", "armed 5 4\n", undefined],
    ["confirmed on the generation (a repair): the round counts", "confirmed 5 5\n", undefined],
    ["rolling back from it: the round is not the generation's", "rolling-back 5 4\n", "rolling-back 5"],
    ["rolled back to the confirmed one by the revert timer", "confirmed 4 4\n", "confirmed 4"],
    ["rolled back with nothing confirmed before it", "confirmed - -\n", "confirmed -"],
    ["no state file: the round says nothing of where the host is", undefined, undefined],
  ];
  it.each(cases)("%s", (_name, stateFile, left) => {
    if (stateFile !== undefined) writeFileSync(join(stateDir, "state"), stateFile);
    const round = gateRound([http], units, 5);
    const { out, hostOk } = runRound(round.script, { ...healthy, HOMEFLEET_STATE_DIR: stateDir });
    const parsed = round.parse(out);
    expect(parsed.left).toBe(left);
    // The host confirms only on a round the deployer counts as passing.
    expect(parsed.allOk).toBe(left === undefined);
    expect(hostOk).toBe(left === undefined);
    // The checks themselves passed either way: the results say so.
    expect(parsed.results.every((r) => r.ok)).toBe(true);
  });

  it("a round made without a generation never reads the state", () => {
    writeFileSync(join(stateDir, "state"), "confirmed 4 4\n");
    const round = gateRound([http], units);
    expect(round.script).not.toContain("homefleet-state");
    const parsed = round.parse(runRound(round.script, { ...healthy, HOMEFLEET_STATE_DIR: stateDir }).out);
    expect(parsed.left).toBeUndefined();
    expect(parsed.allOk).toBe(true);
  });
});

describe("splitSwitched", () => {
  it("a switch that failed before the round is the switch's own result", () => {
    const r = { code: 4, stdout: "prepared generation 3\nactivation failed\n", stderr: "boom" };
    expect(splitSwitched(r)).toEqual({ switch: r });
  });
  it("a round that did not pass: the switch succeeded, no confirmation", () => {
    const parts = splitSwitched({ code: 0, stdout: "prepared generation 3\nrestarting: a.service\nhomefleet:health-round\nactivating\nstates-end\n", stderr: "" });
    expect(parts.switch).toEqual({ code: 0, stdout: "prepared generation 3\nrestarting: a.service\n", stderr: "" });
    expect(parts.round).toBe("activating\nstates-end\n");
    expect(parts.confirm).toBeUndefined();
  });
  it("a confirmation that ran carries the command's exit status", () => {
    const parts = splitSwitched({ code: 77, stdout: "restarting: \nhomefleet:health-round\nactive\nstates-end\nhomefleet:confirm\nstale\n", stderr: "" });
    expect(parts.switch.code).toBe(0);
    expect(parts.round).toBe("active\nstates-end\n");
    expect(parts.confirm).toEqual({ code: 77, stdout: "stale\n", stderr: "" });
  });
});
