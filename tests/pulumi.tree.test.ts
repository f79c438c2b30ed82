/**
 * The resource tree shows what a host runs beyond its stacks: scheduled jobs and the reverse
 * proxy's virtual hosts are components under their host, with outputs a user can read.
 */
import { runProgram, stackFileConfig } from "./support/pulumiMocks";

it("registers a ScheduledJob per job and a VirtualHost per virtual host, under the host", async () => {
  const config = stackFileConfig(`${__dirname}/fixtures/operations.yaml`);
  config["homefleet:resticPassword"] = "placeholder-restic";
  config["homefleet:resticEnvironment"] = "AWS_ACCESS_KEY_ID=placeholder";
  const hosts = JSON.parse(config["homefleet:hosts"]);
  // nginx takes port 80: the step-ca certificate's responder moves, as config demands.
  hosts.debian.certificates.internal.stepCa.httpPort = 8404;
  hosts.debian.proxy = { vhosts: { api: { domains: ["api.example.org"], certificate: "api", upstream: { url: "http://127.0.0.1:8080" } } } };
  config["homefleet:hosts"] = JSON.stringify(hosts);

  const run = await runProgram(config, ["homefleet:resticPassword", "homefleet:resticEnvironment", "homefleet:sshPrivateKey"]);

  expect(run.error).toBeUndefined();
  const of = (type: string) => run.resources.filter((r) => r.type === type);
  const jobs = of("homefleet:job:ScheduledJob");
  expect(jobs.map((j) => j.name).sort()).toEqual(["debian-fstrim-job", "debian-prune-exports-job", "nixos-mail-sync-job", "nixos-zpool-scrub-job"]);
  for (const j of jobs) expect(j.parentType).toBe("homefleet:host:FleetHost");
  expect(jobs.find((j) => j.name === "debian-fstrim-job")!.state).toMatchObject({ unit: "fstrim.service", schedule: "Sun *-*-* 05:30:00", persistent: true, user: "root" });
  const [vhost] = of("homefleet:proxy:VirtualHost");
  expect(vhost).toMatchObject({ name: "debian-api-vhost", parentType: "homefleet:host:FleetHost" });
  expect(vhost.state).toMatchObject({ domains: ["api.example.org"], certificate: "api", upstream: "http://127.0.0.1:8080", url: "https://api.example.org/", listen: "0.0.0.0:443" });
});

