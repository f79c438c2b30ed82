/**
 * A backup directory on a filesystem that is not mounted. The host has a mount unit for the pool
 * that fails (as an absent disk would); the backup jobs must fail rather than write onto the root
 * filesystem, and run normally once the pool mounts, creating their directories on it. Real
 * systemd on a test host; the pool is a tmpfs mount unit whose options are broken, then fixed.
 */
import { fleet } from "./support/fleet";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { deployTo } from "./support/scenarios";

let host: TestHost;

beforeAll(() => {
  host = bootHost("mnt1", 45);
});

afterAll(() => {
  stopHost("mnt1");
});

/** The pool's mount unit: `size=absent` makes every mount attempt fail, like a missing disk. */
function poolUnit(options: string): void {
  onHost(host, `mkdir -p /mnt/pool && printf '%s\\n' '[Unit]' 'Description=backup pool (test)' '[Mount]' 'What=tmpfs' 'Where=/mnt/pool' 'Type=tmpfs' 'Options=${options}' > /etc/systemd/system/mnt-pool.mount && systemctl daemon-reload`);
}

const run = (unit: string) => onHost(host, `systemctl start ${unit}; echo "rc=$?"; systemctl show -p Result --value ${unit}`).stdout.trim().split("\n");

it("a backup onto an unmounted pool fails and writes nothing; once the pool mounts, the same job creates its directory there and succeeds", async () => {
  poolUnit("mode=0755,size=absent");
  await deployTo(host, fleet(host, () => undefined, "proxy", { backup: { dir: "/mnt/pool/backup" } }));
  // The deployment's tmpfiles run made the directories on the root filesystem, under the mount point.
  expect(onHost(host, "mountpoint -q /mnt/pool && echo mounted || echo not-mounted; find /mnt/pool -type f | wc -l").stdout.trim().split("\n")).toEqual(["not-mounted", "0"]);

  expect(run("homefleet-backup-config.service")).toEqual(["rc=1", "success"]);
  const journal = onHost(host, "journalctl --no-pager -o cat -u mnt-pool.mount -u homefleet-backup-config.service").stdout;
  expect(journal).toMatch(/Dependency failed for .*homefleet: archive of/);
  expect(onHost(host, "mountpoint -q /mnt/pool && echo mounted || echo not-mounted; find /mnt/pool -type f | wc -l").stdout.trim().split("\n")).toEqual(["not-mounted", "0"]);

  // The pool appears: the job mounts it, creates its directory on it (tmpfs hides the old one) and archives.
  poolUnit("mode=0755,size=64M");
  expect(run("homefleet-backup-config.service")).toEqual(["rc=0", "success"]);
  const onPool = onHost(host, "mountpoint -q /mnt/pool && echo mounted; stat -c '%a %U' /mnt/pool/backup/config; ls /mnt/pool/backup/config").stdout.trim().split("\n");
  expect(onPool[0]).toBe("mounted");
  expect(onPool[1]).toBe("700 root");
  expect(onPool.slice(2)).toEqual([expect.stringMatching(/^config-\d{8}_\d{6}\.tar\.gz$/)]);
});
