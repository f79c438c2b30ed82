/**
 * A host's restic repositories on a real Debian host with systemd as PID 1: deployed with the
 * stack, each repository's timer is enabled, and `systemctl start` of its unit runs restic in
 * homefleet's sandbox: a repository on the host's own disk is created and written, the paths are
 * read (a home directory bound in read-only, no other home visible), exclude patterns hold, and
 * the metrics are written. A repository whose path is missing fails in restic, not in the
 * sandbox's setup, so its failure is a metric too. The password reaches restic only as a
 * credential.
 */
import { fleet, secretValues } from "./support/fleet";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { deployTo } from "./support/scenarios";

let host: TestHost;

beforeAll(() => {
  host = bootHost("repo1", 44);
});

afterAll(() => {
  stopHost("repo1");
});

const start = (unit: string) => onHost(host, `systemctl start ${unit}; echo "rc=$?"; systemctl show -p Result --value ${unit}`).stdout.trim().split("\n");
const journal = (unit: string) => onHost(host, `journalctl --no-pager -o cat -u ${unit}`).stdout;

it("deploys repositories whose units back up their paths into a repository on the host's disk, with excludes, home paths and metrics", async () => {
  const password = `repo-password-${secretValues["proxy/cache-password"].slice(0, 12)}`;
  secretValues["config/e2eResticPassword"] = password;
  // The data a user's host would hold: a data set, and two home directories.
  const prepare = onHost(host, "mkdir -p /srv/data /home/alice/docs /home/bob && echo keep > /srv/data/keep.txt && echo scratch > /srv/data/skip.tmp && echo note > /home/alice/docs/note.txt && echo private > /home/bob/private.txt");
  expect(prepare.stderr).toBe("");
  const backup = {
    repositories: {
      Local: { repository: "/srv/restic/local", passwordConfig: "e2eResticPassword", paths: ["/srv/data", "/home/alice/docs"], exclude: ["*.tmp"], schedule: "05:00", keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 0, checkCalendar: "Sun *-*-* 06:00:00" },
      Gone: { repository: "/srv/restic/gone", passwordConfig: "e2eResticPassword", paths: ["/home/carol/none"], schedule: "05:30" },
    },
  };
  const result = await deployTo(host, fleet(host, () => undefined, "proxy", { backup }, ["e2eResticPassword"]));
  expect(result.health.verdict).toBe("healthy");

  const timers = onHost(host, "systemctl list-timers --all --no-legend --no-pager").stdout;
  for (const unit of ["homefleet-backup-repository-Local", "homefleet-backup-repository-Gone", "homefleet-check-repository-Local"]) expect(timers).toMatch(new RegExp(`\\s${unit}\\.timer\\s+${unit}\\.service`));

  expect(start("homefleet-backup-repository-Local.service")).toEqual(["rc=0", "success"]);
  expect(start("homefleet-check-repository-Local.service")).toEqual(["rc=0", "success"]);
  const restic = (cmd: string) => onHost(host, `RESTIC_REPOSITORY=/srv/restic/local RESTIC_PASSWORD_FILE=/var/lib/homefleet/secrets/backup/repositories/Local/password restic ${cmd}`);
  const listed = restic("ls latest");
  expect(listed.stderr).toBe("");
  expect(listed.stdout).toContain("/srv/data/keep.txt");
  expect(listed.stdout).toContain("/home/alice/docs/note.txt");
  expect(listed.stdout).not.toContain("skip.tmp");
  expect(onHost(host, "stat -c %a /srv/restic/local").stdout.trim()).toBe("700");
  const prom = onHost(host, "cat /var/lib/prometheus/node-exporter/homefleet_backup_repository-Local.prom /var/lib/prometheus/node-exporter/homefleet_backup_check-repository-Local.prom").stdout;
  expect(prom).toMatch(/^homefleet_backup_last_status\{job="repository-Local",kind="restic"\} 1$/m);
  expect(prom).toMatch(/^homefleet_backup_last_status\{job="check-repository-Local",kind="restic-check"\} 1$/m);

  // Inside the sandbox only alice's bound path is in /home: bob's directory is not there at all.
  const peek = onHost(host, "systemd-run --wait --pipe --quiet -p ProtectHome=tmpfs -p BindReadOnlyPaths=-/home/alice/docs ls -R /home");
  expect(peek.stdout).toContain("note.txt");
  expect(peek.stdout).not.toContain("bob");

  // A missing path: the sandbox still starts ("-" on the bind), restic fails, and the failure is a metric.
  expect(start("homefleet-backup-repository-Gone.service")).toEqual(["rc=1", "exit-code"]);
  expect(journal("homefleet-backup-repository-Gone.service")).toMatch(/\/home\/carol\/none/);
  expect(onHost(host, "cat /var/lib/prometheus/node-exporter/homefleet_backup_repository-Gone.prom").stdout).toMatch(/^homefleet_backup_last_status\{job="repository-Gone",kind="restic"\} 0$/m);

  // The password is in no unit file, process list or journal.
  expect(onHost(host, `grep -rl -- '${password}' /etc/systemd/system /usr/local/lib/homefleet; journalctl --no-pager | grep -c -- '${password}'`).stdout.trim()).toBe("0");
});
