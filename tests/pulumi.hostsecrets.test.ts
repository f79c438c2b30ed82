/**
 * The off-site backup password (a host-level secret from `pulumi config set --secret`) becomes
 * the host's restic password file, held only as a Pulumi secret.
 */
import { plaintextStrings, runProgram, SECRET_SIG, stackFileConfig } from "./support/pulumiMocks";

const RESTIC_PASSWORD = "CANARYRESTICPASSWORD-correct-horse";

it("composes the restic password file as a secret and leaks the password nowhere in plaintext", async () => {
  const config = stackFileConfig(`${__dirname}/fixtures/operations.yaml`);
  config["homefleet:resticPassword"] = RESTIC_PASSWORD;
  config["homefleet:resticEnvironment"] = "AWS_ACCESS_KEY_ID=CANARYAWSKEY\nAWS_SECRET_ACCESS_KEY=CANARYAWSSECRET";

  const run = await runProgram(config, ["homefleet:resticPassword", "homefleet:resticEnvironment", "homefleet:sshPrivateKey"]);

  expect(run.error).toBeUndefined();
  const host = run.resources.find((r) => r.type === "homefleet:host:FleetHost" && r.name === "debian")!;
  const files = (host.state as Record<string, { [SECRET_SIG]: string; value: { path: string; content: string; mode: string }[] }>).secretFiles;
  expect(files[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
  expect(files.value.find((f) => f.path === "/var/lib/homefleet/secrets/backup/restic-password")).toMatchObject({ content: RESTIC_PASSWORD, mode: "0400" });
  const plaintext = run.resources.flatMap((r) => plaintextStrings(r.state).concat(plaintextStrings(r.inputs))).join("\n");
  expect(plaintext).not.toContain("CANARYRESTIC");
  expect(plaintext).not.toContain("CANARYAWS");
});
