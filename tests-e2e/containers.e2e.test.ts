/**
 * Containers on a real Debian host (issue 16, capabilities 7 and 4), deployed by homefleet's own
 * deployer: an app stack linked to a vector-store stack (seed 002's aidb -> qdrant, both the
 * stand-in image), a UDP port, a device and a secret environment variable from a config secret.
 *
 * - the linked container reaches the other stack's container over that stack's bridge, by name
 *   (/etc/hosts) and by QDRANT_HOST/QDRANT_PORT, at the fixed address homefleet gives it;
 * - a datagram sent to the published UDP port on the host arrives in the container's network
 *   namespace;
 * - the device opens inside the container, and the unit allows it (DeviceAllow=). That the line is
 *   needed cannot be shown here: a test host's cgroup v1 devices controller is read-only inside
 *   systemd-nspawn, so no device policy is enforced there at all (even DevicePolicy=closed); the
 *   need follows from systemd.exec(5) (ProtectClock= implies DeviceAllow=char-rtc r) and
 *   systemd.resource-control(5) (DevicePolicy=auto allows all devices only without DeviceAllow=);
 * - the secret reaches the container's environment from a root-only 0400 file and appears in no
 *   unit file, unit property, command line or journal line.
 */
import { randomBytes } from "node:crypto";
import { renderFleet, type FleetRender } from "../bundle/hostBundle";
import { parseFleetConfig } from "../config/load";
import { deployHost } from "../deploy/deployHost";
import { secretsOf, secretValues } from "./support/fleet";
import { bootHost, onHost, stopHost, target, type TestHost } from "./support/hosts";

const NAME = "hc95";
const TOKEN = `CANARYaidbtoken${randomBytes(8).toString("hex")}`;
let host: TestHost;

beforeAll(() => {
  host = bootHost(NAME, 95);
});

afterAll(() => {
  stopHost(NAME);
});

function render(): FleetRender {
  const standin = (port: number) => ({
    image: "localhost/homefleet-standin:1",
    command: ["--port", String(port)],
    port,
    memoryMax: "256M",
    // The stand-in's readiness waits for PostgreSQL and Redis; these stacks have neither.
    environment: { STANDIN_POSTGRES: "off", STANDIN_REDIS: "off" },
    healthCheck: { path: "/health/liveliness", timeoutSec: 90, intervalSec: 2 },
  });
  const config = parseFleetConfig({
    hosts: { [NAME]: { address: host.address, arch: host.arch, os: "systemd", hostKey: host.hostKey, podman: { cgroups: "disabled" } } },
    stacks: {
      qdrant: { host: NAME, network: { subnet: "10.89.2.0/24" }, container: { ...standin(6333), ports: [{ container: 5353, hostPort: 5353, protocol: "udp" }] } },
      aidb: {
        host: NAME,
        network: { subnet: "10.89.3.0/24" },
        links: [{ stack: "qdrant" }],
        container: { ...standin(8091), devices: ["/dev/net/tun"], secretEnvironment: { AIDB_API_TOKEN: "config:aidbToken" } },
      },
    },
    configKeys: ["aidbToken"],
  });
  return renderFleet(config);
}

const sh = (command: string) => onHost(host, command);
const out = (command: string) => sh(command).stdout.trim();

it("deploys a linked stack, a UDP port, a device and a secret variable, and each works on the host", async () => {
  secretValues["config/aidbToken"] = TOKEN;
  const fleet = render();
  const bundle = fleet.bundles[0];
  const result = await deployHost(target(host), bundle.files, bundle.manifest, secretsOf(bundle), { healthTimeoutSec: 120, confirmAfterSec: 60, keepGenerations: 10 });
  expect(result.health.verdict).toBe("healthy");
  expect(result.unitStates["podman-qdrant.service"]).toBe("active");
  expect(result.unitStates["podman-aidb.service"]).toBe("active");

  // The link: two networks, a fixed address for the linked-to container, reached by name and by the variables.
  expect(out("podman inspect --format '{{range $n, $v := .NetworkSettings.Networks}}{{$n}}={{$v.IPAddress}} {{end}}' qdrant")).toBe("hf-qdrant=10.89.2.254");
  expect(out("podman inspect --format '{{range $n, $v := .NetworkSettings.Networks}}{{$n}} {{end}}' aidb")).toBe("hf-aidb hf-qdrant");
  expect(out("podman exec aidb wget -qO- http://qdrant:6333/health/liveliness")).toMatch(/alive|ok|healthy/i);
  expect(out("podman exec aidb sh -c 'wget -qO /dev/null -S http://$QDRANT_HOST:$QDRANT_PORT/health/liveliness 2>&1 | head -1'")).toMatch(/200 OK/);
  // The app's own bridge does not reach the linked container: the shared bridge does.
  expect(sh("podman exec aidb wget -qO- -T 3 http://10.89.3.254:6333/health/liveliness").status).not.toBe(0);
  // Started after the container it links to.
  const started = (unit: string) => Number(out(`systemctl show -p ActiveEnterTimestampMonotonic --value ${unit}`));
  expect(started("podman-aidb.service")).toBeGreaterThan(started("podman-qdrant.service"));

  // UDP: a datagram to 127.0.0.1:5353/udp on the host arrives on port 5353 in the container's namespace.
  const pid = out("podman inspect --format '{{.State.Pid}}' qdrant");
  const listener = `nsenter -t ${pid} -n perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => 5353, Proto => "udp") or die; alarm 20; $s->recv($m, 100); print $m' > /tmp/udp-received 2>&1 &`;
  sh(listener);
  sh("sleep 1; perl -MIO::Socket::INET -e 'IO::Socket::INET->new(PeerAddr => \"127.0.0.1:5353\", Proto => \"udp\")->send(\"hello-udp\")'; sleep 1");
  expect(out("cat /tmp/udp-received")).toBe("hello-udp");

  // The device: open() succeeds (a tun device then refuses the read itself: EBADFD).
  const openTun = () => sh("podman exec aidb cat /dev/net/tun").stderr;
  expect(openTun()).toMatch(/File descriptor in bad state/);
  expect(out("systemctl show -p DeviceAllow --value podman-aidb.service")).toContain("/dev/net/tun rwm");

  // The secret: in the container's environment, from a 0400 root file, and nowhere else.
  expect(out("podman exec aidb sh -c 'echo \"$AIDB_API_TOKEN\"'")).toBe(TOKEN);
  expect(out("stat -c '%a %U %G' /var/lib/homefleet/secrets/aidb/container.env")).toBe("400 root root");
  const leaks = out(
    `grep -rl ${TOKEN} /etc /usr/local/lib/homefleet 2>/dev/null; systemctl show podman-aidb.service | grep -c ${TOKEN}; ps -eo args | grep -v grep | grep -c ${TOKEN}; journalctl --no-pager -o cat | grep -c ${TOKEN}`,
  );
  expect(leaks.split("\n")).toEqual(["0", "0", "0"]);
});
