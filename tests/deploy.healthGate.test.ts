/**
 * The health gate's decisions over a sequence of rounds, as the host would answer them: the
 * round scripts are the real ones, the answers are what each round printed on a host.
 */
import { gateRound, healthGate } from "../deploy/deployHost";
import type { HostSession } from "../deploy/ssh";
import type { HealthCheckSpec } from "../model/specs";

const http: HealthCheckSpec = { kind: "http", unit: "podman-app.service", url: "http://127.0.0.1:4000/health", timeoutSec: 60 } as HealthCheckSpec;
const units = ["podman-app.service"];
const HTTP_CHECK = "podman-app.service: GET http://127.0.0.1:4000/health";

/** What a round prints: the unit's state, the HTTP check's result, and the host's state line. */
function answer(unit: string, httpOk: boolean, state: string): string {
  return `${unit}\nstates-end\n0=${httpOk ? "ok" : "fail"}\nhomefleet-state ${state}\n`;
}

/** A session whose rounds answer in turn; it records the scripts it was asked to run. */
function sessionAnswering(answers: string[]): { session: HostSession; asked: string[] } {
  const asked: string[] = [];
  const session = {
    async exec(script: string) {
      asked.push(script);
      const out = answers.shift();
      if (out === undefined) throw new Error("the gate asked for more rounds than the test has");
      return { code: 0, stdout: out, stderr: "" };
    },
  } as unknown as HostSession;
  return { session, asked };
}

describe("the health gate, when the host leaves the generation under test", () => {
  it("the round script for a generation names it and the parse agrees with the answers used below", () => {
    const round = gateRound([http], units, 5);
    expect(round.parse(answer("active", true, "armed 5")).allOk).toBe(true);
    expect(round.parse(answer("active", true, "confirmed 4")).left).toBe("confirmed 4");
  });

  it("stops at the first round taken off the generation and reports the last round taken on it", async () => {
    const { session, asked } = sessionAnswering([
      answer("active", false, "armed 5"),
      answer("active", false, "armed 5"),
      // The timer's rollback restarted the service under this round: not generation 5's result.
      answer("activating", false, "rolling-back 5"),
    ]);
    const health = await healthGate(session, [http], { timeoutSec: 60, units, generation: 5 });
    expect(asked).toHaveLength(3);
    expect(health.verdict).toBe("unhealthy");
    expect(health.leftFor).toBe("rolling-back 5");
    // Generation 5's own failure, not the unit that was restarting under the rollback.
    expect(health.checks.filter((c) => !c.ok).map((c) => c.check)).toEqual([HTTP_CHECK]);
  });

  it("a gate that was passing when the host left is unhealthy with every check passing, and says how long they held", async () => {
    const { session } = sessionAnswering([answer("active", true, "armed 5"), answer("active", true, "confirmed 4")]);
    const health = await healthGate(session, [http], { timeoutSec: 60, units, soakSec: 30, generation: 5 });
    expect(health.verdict).toBe("unhealthy");
    expect(health.leftFor).toBe("confirmed 4");
    expect(health.checks.every((c) => c.ok)).toBe(true);
    expect(health.heldSec).toBeGreaterThanOrEqual(1);
  }, 10_000);

  it("a first round already off the generation leaves no results to count", async () => {
    const { session } = sessionAnswering([]);
    const health = await healthGate(session, [http], { timeoutSec: 60, units, generation: 5, firstRound: { out: answer("active", false, "confirmed 4"), at: Date.now() } });
    expect(health.verdict).toBe("unhealthy");
    expect(health.leftFor).toBe("confirmed 4");
    expect(health.checks).toEqual([]);
  });

  it("a gate that stays on its generation judges every round as before", async () => {
    const { session } = sessionAnswering([answer("activating", false, "armed 5"), answer("active", true, "armed 5")]);
    const health = await healthGate(session, [http], { timeoutSec: 60, units, generation: 5 });
    expect(health.verdict).toBe("healthy");
    expect(health.leftFor).toBeUndefined();
  });
});
