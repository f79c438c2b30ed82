/**
 * A scheduled job's secret environment: a secret config value becomes the job's root-only
 * environment file, held only as a Pulumi secret (one program run per file: the mock runtime is
 * process-wide).
 */
import { plaintextStrings, runProgram, SECRET_SIG, stackFileConfig } from "./support/pulumiMocks";

it("composes a job's secret environment file as a Pulumi secret and leaks the value nowhere in plaintext", async () => {
  const config = stackFileConfig(`${__dirname}/fixtures/operations.yaml`);
  config["homefleet:resticPassword"] = "placeholder-restic";
  config["homefleet:resticEnvironment"] = "AWS_ACCESS_KEY_ID=placeholder";
  config["homefleet:githubToken"] = "CANARYJOBTOKEN-ghp-0123456789";
  const hosts = JSON.parse(config["homefleet:hosts"]);
  hosts.debian.jobs.archive = { program: { debian: "/usr/bin/git" }, args: ["fetch"], calendar: "*-*-* 00:00:00", network: true, secretEnvironment: { GITHUB_TOKEN: "config:githubToken" } };
  config["homefleet:hosts"] = JSON.stringify(hosts);

  const run = await runProgram(config, ["homefleet:resticPassword", "homefleet:resticEnvironment", "homefleet:githubToken", "homefleet:sshPrivateKey"]);

  expect(run.error).toBeUndefined();
  const host = run.resources.find((r) => r.type === "homefleet:host:FleetHost" && r.name === "debian")!;
  const files = (host.state as Record<string, { [SECRET_SIG]: string; value: { path: string; content: string; mode: string }[] }>).secretFiles;
  expect(files[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
  expect(files.value.find((f) => f.path === "/var/lib/homefleet/secrets/jobs/archive.env")).toMatchObject({ content: "GITHUB_TOKEN=CANARYJOBTOKEN-ghp-0123456789\n", mode: "0400" });
  const plaintext = run.resources.flatMap((r) => plaintextStrings(r.state).concat(plaintextStrings(r.inputs))).join("\n");
  expect(plaintext).not.toContain("CANARYJOBTOKEN");
});
