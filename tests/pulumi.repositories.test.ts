/**
 * A host's restic repositories in the Pulumi program: a BackupSchedule component per repository
 * under its host, and each repository's password (a secret config value) composed into its own
 * root-only file, held only as a Pulumi secret: never in plaintext in the state, the inputs or
 * the rendered files the state carries (one program run per file: the mock runtime is
 * process-wide).
 */
import { plaintextStrings, runProgram, SECRET_SIG, stackFileConfig } from "./support/pulumiMocks";

const PHOTOS_PASSWORD = "CANARYPHOTOSREPO-battery-staple";
const B2_ENVIRONMENT = "AWS_ACCESS_KEY_ID=CANARYB2KEY\nAWS_SECRET_ACCESS_KEY=CANARYB2SECRET";

it("registers a BackupSchedule per repository and keeps each password a secret everywhere", async () => {
  const config = stackFileConfig(`${__dirname}/fixtures/operations.yaml`);
  config["homefleet:resticPassword"] = "placeholder-restic";
  config["homefleet:resticEnvironment"] = "AWS_ACCESS_KEY_ID=placeholder";
  config["homefleet:photosPassword"] = PHOTOS_PASSWORD;
  config["homefleet:b2Environment"] = B2_ENVIRONMENT;
  const hosts = JSON.parse(config["homefleet:hosts"]);
  hosts.nixos.backup.repositories = {
    Photos: { repository: "s3:s3.us-west-001.backblazeb2.com/photos", passwordConfig: "photosPassword", environmentConfig: "b2Environment", paths: ["/tank/Photos"], keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 0, schedule: "01:00", checkCalendar: "Sun *-*-* 07:00:00" },
    doc: { repository: "s3:s3.us-west-001.backblazeb2.com/doc", passwordConfig: "photosPassword", environmentConfig: "b2Environment", paths: ["/tank/doc"], exclude: ["*.tmp"] },
  };
  config["homefleet:hosts"] = JSON.stringify(hosts);

  const run = await runProgram(config, ["homefleet:resticPassword", "homefleet:resticEnvironment", "homefleet:photosPassword", "homefleet:b2Environment", "homefleet:sshPrivateKey"]);

  expect(run.error).toBeUndefined();
  const schedules = run.resources.filter((r) => r.type === "homefleet:backup:BackupSchedule" && r.name.startsWith("nixos-repository-"));
  expect(schedules.map((s) => s.name).sort()).toEqual(["nixos-repository-Photos-backup", "nixos-repository-doc-backup"]);
  for (const s of schedules) expect(s.parentType).toBe("homefleet:host:FleetHost");
  expect(schedules.find((s) => s.name === "nixos-repository-Photos-backup")!.state).toMatchObject({
    job: "homefleet-backup-repository-Photos",
    kind: "repository",
    saves: ["/tank/Photos"],
    destination: "s3:s3.us-west-001.backblazeb2.com/photos",
    retention: "7 daily, 4 weekly, 12 monthly, 0 yearly snapshots",
    schedule: "*-*-* 01:00:00",
    check: { job: "homefleet-check-repository-Photos", schedule: "Sun *-*-* 07:00:00" },
  });
  // The off-site copy keeps its component and name.
  expect(run.resources.some((r) => r.type === "homefleet:backup:BackupSchedule" && r.name === "nixos-offsite-backup")).toBe(true);

  const host = run.resources.find((r) => r.type === "homefleet:host:FleetHost" && r.name === "nixos")!;
  const files = (host.state as Record<string, { [SECRET_SIG]: string; value: { path: string; content: string; mode: string }[] }>).secretFiles;
  expect(files[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
  for (const name of ["Photos", "doc"]) {
    expect(files.value.find((f) => f.path === `/var/lib/homefleet/secrets/backup/repositories/${name}/password`)).toMatchObject({ content: PHOTOS_PASSWORD, mode: "0400", owner: "root" });
    expect(files.value.find((f) => f.path === `/var/lib/homefleet/secrets/backup/repositories/${name}/restic.env`)).toMatchObject({ mode: "0400" });
  }
  const plaintext = run.resources.flatMap((r) => plaintextStrings(r.state).concat(plaintextStrings(r.inputs))).join("\n");
  // The rendered files are in the state: the unit names the password file, never the password.
  expect(plaintext).toContain("restic-password:/var/lib/homefleet/secrets/backup/repositories/Photos/password");
  expect(plaintext).not.toContain("CANARYPHOTOSREPO");
  expect(plaintext).not.toContain("CANARYB2");
});
