/**
 * Scheduled jobs on a real Debian host with systemd as PID 1: deployed with the stack, each
 * job's timer is enabled and listed by `systemctl list-timers`, and `systemctl start` of its
 * service runs the command in homefleet's sandbox: it writes where its config allows and
 * nowhere else (not even as root), and reaches the network only when asked. A job taken out of
 * the config leaves the host with the next deployment.
 */
import { fleet } from "./support/fleet";
import { bootHost, onHost, stopHost, type TestHost } from "./support/hosts";
import { deployTo } from "./support/scenarios";

let host: TestHost;

beforeAll(() => {
  host = bootHost("job1", 91);
});

afterAll(() => {
  stopHost("job1");
});

const sh = (script: string) => ({ program: { debian: "/bin/sh" }, args: ["-c", script] });

/** `systemctl start` of UNIT: its exit status and the unit's Result. */
const start = (unit: string) => onHost(host, `systemctl start ${unit}; echo "rc=$?"; systemctl show -p Result --value ${unit}`).stdout.trim().split("\n");
const journal = (unit: string) => onHost(host, `journalctl --no-pager -o cat -u ${unit}`).stdout;

it("deploys jobs whose timers are listed, whose services write only where allowed and reach the network only when asked, and which leave with the config", async () => {
  // What a user's host would have before: a service user and the directories a job works on.
  const prepare = onHost(host, "useradd --system --no-create-home exports && mkdir -p /srv/jobs-out /srv/jobs-other && chown exports: /srv/jobs-out && chmod 0755 /srv/jobs-other");
  expect(prepare.stderr).toBe("");
  // Something to reach over the network: sshd on the host's own address (not in a private network namespace).
  const probe = `exec 3<>/dev/tcp/${host.address}/22 && echo reached`;
  const jobs = {
    "export-report": { ...sh("date -u > /srv/jobs-out/report && id -un > /srv/jobs-out/whoami"), calendar: "*-*-* 12:00:00", user: "exports", writePaths: ["/srv/jobs-out"] },
    "stray-write": { ...sh("touch /srv/jobs-other/stray"), calendar: "*-*-* 13:00:00" },
    "offline-probe": { program: { debian: "/bin/bash" }, args: ["-c", probe], calendar: "Sun *-*-* 14:00:00" },
    "online-probe": { program: { debian: "/bin/bash" }, args: ["-c", probe], calendar: "Sun *-*-* 15:00:00", network: true },
  };
  const result = await deployTo(host, fleet(host, () => undefined, "proxy", { jobs }));
  expect(result.health.verdict).toBe("healthy");

  // The timers are enabled, active and scheduled.
  const timers = onHost(host, "systemctl list-timers --all --no-legend --no-pager").stdout;
  for (const name of Object.keys(jobs)) {
    expect(timers).toMatch(new RegExp(`\\s${name}\\.timer\\s+${name}\\.service`));
    expect(onHost(host, `systemctl is-enabled ${name}.timer; systemctl is-active ${name}.timer`).stdout.trim().split("\n")).toEqual(["enabled", "active"]);
  }
  // No job ran at deployment: only its timer starts it.
  expect(onHost(host, "ls -A /srv/jobs-out /srv/jobs-other").stdout).toBe("/srv/jobs-other:\n\n/srv/jobs-out:\n");

  // Writes its own directory, as its user.
  expect(start("export-report.service")).toEqual(["rc=0", "success"]);
  expect(onHost(host, "cat /srv/jobs-out/whoami; stat -c %U /srv/jobs-out/report").stdout.trim().split("\n")).toEqual(["exports", "exports"]);

  // Runs as root, yet cannot write a directory root owns: ProtectSystem=strict leaves only writePaths writable.
  expect(start("stray-write.service")).toEqual(["rc=1", "exit-code"]);
  expect(journal("stray-write.service")).toMatch(/touch: cannot touch '\/srv\/jobs-other\/stray': Read-only file system/);
  expect(onHost(host, "ls -A /srv/jobs-other").stdout).toBe("");

  // Each run ends by writing its metrics (ExecStopPost=, as root outside the sandbox): the
  // succeeded job's status 1 with a last success, the failed one's status 0 without one.
  const metric = (job: string) => onHost(host, `grep -E '^homefleet_job_last_(status|success_timestamp_seconds)' /var/lib/prometheus/node-exporter/homefleet_job_${job}.prom`).stdout;
  expect(metric("export-report")).toMatch(/^homefleet_job_last_status\{job="export-report"\} 1\nhomefleet_job_last_success_timestamp_seconds\{job="export-report"\} \d+\n$/);
  expect(metric("stray-write")).toBe('homefleet_job_last_status{job="stray-write"} 0\n');

  // No network unless asked: not even an IPv4 socket (RestrictAddressFamilies=AF_UNIX, and PrivateNetwork=yes behind it).
  expect(start("offline-probe.service")).toEqual(["rc=1", "exit-code"]);
  expect(journal("offline-probe.service")).toMatch(/socket: Address family not supported by protocol/);
  expect(start("online-probe.service")).toEqual(["rc=0", "success"]);
  expect(journal("online-probe.service")).toContain("reached");

  // A job taken out of the config leaves the host: its timer is stopped and its files removed.
  const { "stray-write": _gone, ...kept } = jobs;
  const again = await deployTo(host, fleet(host, () => undefined, "proxy", { jobs: kept }));
  expect(again.health.verdict).toBe("healthy");
  const after = onHost(host, "systemctl list-timers --all --no-legend --no-pager").stdout;
  expect(after).not.toContain("stray-write");
  expect(after).toContain("export-report.timer");
  expect(onHost(host, "ls /etc/systemd/system/stray-write.service /etc/systemd/system/stray-write.timer 2>&1 | grep -c 'No such file'").stdout.trim()).toBe("2");
});
