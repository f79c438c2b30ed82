/**
 * A native service on a real Debian host: Avahi from Debian's package, installed by the
 * deployment's package step (the host-packages provider's own code, from a local apt repository
 * on the host, which reaches no mirror), then homefleet's drop-in on the packaged unit: ordering
 * after the stack's Redis, the pool mounted first, a memory limit and the Redis password as a
 * credential, all in effect as systemd reports them. The health gate waits for the unit; the
 * nightly archive reads the service's data directory, which its own user owns.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet, type FleetRender } from "../bundle/hostBundle";
import { parseFleetConfig } from "../config/load";
import { installPackages } from "../deploy/hostPackagesProvider";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { deployTo } from "./support/scenarios";

let host: TestHost;
let debs = "";
const REPO = "/srv/homefleet-e2e-repo";

function render(memoryMax: string): FleetRender {
  return renderFleet(
    parseFleetConfig({
      hosts: { [host.name]: { address: host.address, arch: host.arch, os: "systemd", hostKey: host.hostKey, podman: { cgroups: "disabled" } } },
      stacks: { mdns: { host: host.name, native: { service: "avahi", mounts: ["/srv/mdns"], dataDirs: ["/srv/mdns/state"], memoryMax }, cache: { port: 6390 } } },
    }),
  );
}

const show = (unit: string, ...props: string[]) =>
  Object.fromEntries(
    onHost(host, `systemctl show ${props.map((p) => `-p ${p}`).join(" ")} ${unit}`)
      .stdout.trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

beforeAll(() => {
  host = bootHost("nat1", 40);
  // Debian's avahi-daemon and the libraries the test host's rootfs lacks, from this machine's mirror.
  debs = mkdtempSync(join(tmpdir(), "hf-native-debs-"));
  execFileSync("apt-get", ["-q", "-o", "APT::Sandbox::User=root", "download", "avahi-daemon", "libavahi-common-data", "libavahi-common3", "libavahi-core7", "libdaemon0"], { cwd: debs, stdio: "pipe" });
  // The pool: a mount unit the service must wait for (tmpfs stands in for the disk).
  const pool = onHost(host, "mkdir -p /srv/mdns && printf '%s\\n' '[Unit]' 'Description=pool (test)' '[Mount]' 'What=tmpfs' 'Where=/srv/mdns' 'Type=tmpfs' 'Options=mode=0755,size=16M' > /etc/systemd/system/srv-mdns.mount && systemctl daemon-reload");
  expect(pool.status).toBe(0);
});

afterAll(() => {
  stopHost("nat1");
  if (debs) rmSync(debs, { recursive: true, force: true });
});

it("the package step installs avahi-daemon from a local repository (the host reaches no mirror)", async () => {
  for (const deb of readdirSync(debs)) expect(onHost(host, `mkdir -p ${REPO} && cat > ${REPO}/${deb}`, readFileSync(join(debs, deb))).status).toBe(0);
  const index = onHost(
    host,
    `cd ${REPO} && for d in *.deb; do dpkg-deb -f "$d"; echo "Filename: ./$d"; echo "Size: $(stat -c %s "$d")"; echo "SHA256: $(sha256sum "$d" | cut -d' ' -f1)"; echo; done > Packages && ` +
      `echo 'deb [trusted=yes] file:${REPO} ./' > /etc/apt/sources.list && rm -f /etc/apt/sources.list.d/*`,
  );
  expect(index.status).toBe(0);
  const manifest = render("64M").bundles[0].manifest;
  expect(manifest.packages).toContain("avahi-daemon");
  const result = await installPackages({ host: host.name, connection: { address: host.address, port: 22, user: "root", hostKey: host.hostKey }, privateKey: readFileSync(host.keyFile, "utf8"), packages: manifest.packages });
  expect(result.installed["avahi-daemon"]).toMatch(/^0\.8-10/);
});

it("the deployment writes the drop-in, and systemd runs the packaged unit with homefleet's ordering, mount, limit and credential", async () => {
  const deployed = await deployTo(host, render("64M"));
  expect(deployed.health.verdict).toBe("healthy");
  expect(deployed.health.checks.filter((c) => c.unit === "avahi-daemon.service").map((c) => c.ok)).toEqual([true]);
  expect(deployed.unitStates["avahi-daemon.service"]).toBe("active");
  expect(deployed.unitStates["redis-mdns.service"]).toBe("active");

  const unit = show("avahi-daemon.service", "After", "Wants", "RequiresMountsFor", "MemoryMax", "DropInPaths", "ActiveState");
  expect(unit.ActiveState).toBe("active");
  expect(unit.DropInPaths.split(" ")).toContain("/etc/systemd/system/avahi-daemon.service.d/50-homefleet.conf");
  expect(unit.After.split(" ")).toEqual(expect.arrayContaining(["redis-mdns.service", "srv-mdns.mount"]));
  expect(unit.Wants.split(" ")).toContain("redis-mdns.service");
  expect(unit.RequiresMountsFor.split(" ").sort()).toEqual(["/srv/mdns", "/srv/mdns/state"]);
  expect(unit.MemoryMax).toBe(String(64 * 1024 * 1024));
  // The pool was mounted for it, and the Redis password reached it as a credential (compared on the host, never printed).
  expect(onHost(host, "mountpoint -q /srv/mdns && echo mounted").stdout.trim()).toBe("mounted");
  expect(onHost(host, "cmp -s /run/credentials/avahi-daemon.service/cache-password /var/lib/homefleet/secrets/mdns/cache-password && echo same").stdout.trim()).toBe("same");
});

it("the nightly archive reads the service's data directory, owned by its own user (0700)", () => {
  const prepared = onHost(host, "install -d -m 0700 -o avahi -g avahi /srv/mdns/state && echo '{}' > /srv/mdns/state/services.json && chown avahi:avahi /srv/mdns/state/services.json && chmod 0600 /srv/mdns/state/services.json");
  expect(prepared.status).toBe(0);
  const run = onHost(host, "systemctl start homefleet-backup-volumes-mdns.service; echo \"rc=$?\"; systemctl show -p Result --value homefleet-backup-volumes-mdns.service");
  expect(run.stdout.trim().split("\n")).toEqual(["rc=0", "success"]);
  const listing = onHost(host, "for a in /var/backup/homefleet/volumes-mdns/*.tar.gz; do tar -tzf \"$a\"; done").stdout;
  expect(listing).toContain("srv/mdns/state/services.json");
});

it("a changed limit rewrites only the drop-in and restarts only the unit that reads it", async () => {
  const deployed = await deployTo(host, render("96M"));
  expect(deployed.health.verdict).toBe("healthy");
  expect(deployed.uploadedFiles).toEqual(["/etc/systemd/system/avahi-daemon.service.d/50-homefleet.conf"]);
  expect(deployed.restarted).toEqual(["avahi-daemon.service"]);
  expect(show("avahi-daemon.service", "MemoryMax").MemoryMax).toBe(String(96 * 1024 * 1024));
});
