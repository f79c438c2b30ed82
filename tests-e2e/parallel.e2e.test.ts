/**
 * Hosts deploy in parallel, each over its own connection: one host failing its health gate on
 * its first deployment is removed again (no generation was ever confirmed there) and says why, while the
 * other host comes up healthy.
 */
import { deployHost } from "../deploy/deployHost";
import { fleet, secretsOf } from "./support/fleet";
import { bootHost, onHost, stopHost, target, type TestHost } from "./support/hosts";

let good: TestHost;
let bad: TestHost;

beforeAll(() => {
  good = bootHost("e2e4", 14);
  bad = bootHost("e2e5", 15);
});

afterAll(() => {
  stopHost("e2e4");
  stopHost("e2e5");
});

it("deploys two hosts at once; the failing one is named, cleaned up, and does not stop the other", async () => {
  const goodBundle = fleet(good).bundles[0];
  const badBundle = fleet(bad, (s) => (s.container.healthCheck = { path: "/no-such-endpoint", timeoutSec: 10, intervalSec: 1 })).bundles[0];
  const started = Date.now();
  const [okResult, failed] = await Promise.allSettled([
    deployHost(target(good), goodBundle.files, goodBundle.manifest, secretsOf(goodBundle), { healthTimeoutSec: 120 }),
    deployHost(target(bad), badBundle.files, badBundle.manifest, secretsOf(badBundle), { healthTimeoutSec: 20 }),
  ]);
  const elapsed = (Date.now() - started) / 1000;

  expect(okResult.status).toBe("fulfilled");
  expect((okResult as PromiseFulfilledResult<Awaited<ReturnType<typeof deployHost>>>).value.health.verdict).toBe("healthy");
  expect(failed.status).toBe("rejected");
  const message = String((failed as PromiseRejectedResult).reason.message);
  expect(message).toMatch(/^host e2e5: generation 1 failed its health check "podman-proxy.service: GET http:\/\/127.0.0.1:4000\/no-such-endpoint"; removed it again \(no generation was ever confirmed on this host\): the host runs nothing of homefleet's\./);
  expect(message).toContain("last journal lines of podman-proxy.service");

  // The failed host runs nothing of homefleet's; the good one serves.
  expect(onHost(bad, "test -e /etc/systemd/system/podman-proxy.service; echo $?").stdout.trim()).toBe("1");
  expect(onHost(bad, "systemctl is-active podman-proxy.service redis-proxy.service").stdout).not.toMatch(/^active$/m);
  expect(onHost(good, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4000/health/readiness").stdout).toBe("200");
  process.stdout.write(`two hosts in parallel: ${elapsed.toFixed(1)} s\n`);
});
