/**
 * Deployment scenarios that every architecture must pass, each on a fresh test host in order:
 * first deploy, a config change, a failing health check. The x86_64 host (deploy.e2e.test.ts) and
 * the aarch64 host (aarch64.e2e.test.ts) run the same expectations.
 */
import type { FleetRender } from "../../bundle/hostBundle";
import { deployHost, readHost, type DeployOptions } from "../../deploy/deployHost";
import { DeployError } from "../../deploy/ssh";
import { fleet, secretsOf } from "./fleet";
import { onHost, target, type TestHost } from "./hosts";

/** Deploys the fleet's only bundle to HOST with the tests' timeouts. */
export function deployTo(host: TestHost, render: FleetRender, options: DeployOptions = {}) {
  const bundle = render.bundles[0];
  return deployHost(target(host), bundle.files, bundle.manifest, secretsOf(bundle), { healthTimeoutSec: 120, confirmAfterSec: 60, keepGenerations: 10, ...options });
}

/** The proxy's readiness as the host itself sees it. */
export function readiness(host: TestHost): string {
  return onHost(host, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4000/health/readiness").stdout;
}

/** First deploy: all units active and the stand-in healthy through the bridge gateway. */
export async function firstDeployIsHealthy(host: TestHost, options: DeployOptions = {}): Promise<void> {
  const result = await deployTo(host, fleet(host), options);
  expect(result.health.verdict).toBe("healthy");
  expect(result.generation).toBe(1);
  expect(result.health.checks.map((c) => c.ok)).not.toContain(false);
  expect(result.unitStates["podman-proxy.service"]).toBe("active");
  // From inside the host: readiness answers, and PostgreSQL/Redis listen on the gateway.
  expect(readiness(host)).toBe("200");
  expect(onHost(host, "ss -ltn").stdout).toMatch(/10\.89\.0\.1:5432/);
  expect(onHost(host, "ss -ltn").stdout).toMatch(/10\.89\.0\.1:6380/);
}

/** Redis's memory limit: only redis.conf changes, and only its reader restarts. */
export const smallerCache = (s: Record<string, any>) => (s.cache.maxMemory = "128mb");

export async function configChangeRestartsOnlyItsReaders(host: TestHost, options: DeployOptions = {}): Promise<void> {
  const before = await readHost(target(host));
  const result = await deployTo(host, fleet(host, smallerCache), options);
  expect(result.generation).toBe((before.generation ?? 0) + 1);
  expect(result.uploadedFiles).toEqual(["/etc/homefleet/proxy/redis.conf"]);
  expect(result.restarted).toEqual(["redis-proxy.service"]);
  expect(result.health.verdict).toBe("healthy");
}

/** A change whose health check fails rolls back, and the old generation serves again. */
export async function failingHealthCheckRollsBack(host: TestHost, options: DeployOptions = {}): Promise<void> {
  const before = await readHost(target(host));
  const broken = fleet(host, (s) => {
    smallerCache(s);
    s.container.healthCheck = { path: "/no-such-endpoint", timeoutSec: 10, intervalSec: 1 };
  });
  const error = await deployTo(host, broken, { healthTimeoutSec: 20, ...options }).then(
    () => undefined,
    (err: Error) => err,
  );
  expect(error).toBeInstanceOf(DeployError);
  expect(error!.message).toMatch(new RegExp(`^host ${host.name}: generation \\d+ failed its health check "podman-proxy.service: GET http://127.0.0.1:4000/no-such-endpoint"`));
  expect(error!.message).toContain(`rolled back to generation ${before.generation}, which is healthy`);
  expect(error!.message).toContain("last journal lines of podman-proxy.service");
  const after = await readHost(target(host));
  expect(after.generation).toBe(before.generation);
  expect(readiness(host)).toBe("200");
}
