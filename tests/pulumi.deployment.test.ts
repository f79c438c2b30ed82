/**
 * The host deployments the program registers under the mock runtime: one per host, under its
 * FleetHost, with the SSH key and every secret file only as Pulumi secrets, and the package
 * install on plain systemd hosts only.
 */
import { canaryFor, plaintextStrings, runProgram, SECRET_SIG, stackFileConfig, type ProgramRun, type RegisteredResource } from "./support/pulumiMocks";
import { stagingRelease } from "./support/promotion";

process.env.PULUMI_ERROR_OUTPUT_STRING = "true";

const DEPLOYMENT = "pulumi-nodejs:dynamic/homefleet:HostDeployment";
const PACKAGES = "pulumi-nodejs:dynamic/homefleet:HostPackages";

function isSecret(value: unknown): boolean {
  return !!value && typeof value === "object" && (value as Record<string, unknown>)[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
}

describe("prod under the mock runtime", () => {
  let run: ProgramRun;
  let deployments: RegisteredResource[];
  beforeAll(async () => {
    const config = stackFileConfig(`${__dirname}/../Pulumi.prod.yaml`);
    config["homefleet:deploy"] = JSON.stringify({ confirmAfterSec: 330, healthTimeoutSec: 240 });
    run = await runProgram(config, undefined, { stackOutputs: { staging: { release: stagingRelease() } } });
    deployments = run.resources.filter((r) => r.type === DEPLOYMENT);
  });

  it("runs without error", () => {
    expect(run.error).toBeUndefined();
  });

  it("registers one host deployment per host, named after it and parented by its FleetHost", () => {
    expect(deployments.map((d) => d.name).sort()).toEqual(["forge-deployment", "vulcan-deployment"]);
    for (const d of deployments) expect(d.parentType).toBe("homefleet:host:FleetHost");
  });

  it("gives each deployment its host's connection, manifest, files and the deploy settings", () => {
    const forge = deployments.find((d) => d.name === "forge-deployment")!.inputs as Record<string, any>;
    expect(forge.host).toBe("forge");
    expect(forge.connection).toMatchObject({ address: expect.any(String), port: 22, user: "root" });
    expect(forge.options).toEqual({ confirmAfterSec: 330, healthTimeoutSec: 240, healthSoakSec: 30, keepGenerations: 5 });
    expect(forge.manifest.os).toBe("systemd");
    expect(Object.keys(forge.files).sort()).toEqual(forge.manifest.files.map((f: { path: string }) => f.path).sort());
    expect(typeof forge.__provider).toBe("string"); // the serialized provider the engine runs
  });

  it("holds the SSH key and the secret files only as secrets, and the canaries nowhere in plaintext", () => {
    for (const d of deployments) {
      expect(isSecret(d.inputs.privateKey)).toBe(true);
      expect(isSecret(d.inputs.secrets)).toBe(true);
    }
    const forgeSecrets = JSON.stringify((deployments.find((d) => d.name === "forge-deployment")!.inputs.secrets as { value: unknown }).value);
    expect(forgeSecrets).toContain(canaryFor("litellm-forge-database-password"));
    // GeneratedSecret's result is secret through additionalSecretOutputs, which mocks do not apply.
    const plaintext = run.resources.filter((r) => r.type !== "pulumi-nodejs:dynamic/homefleet:GeneratedSecret").flatMap((r) => plaintextStrings(r.inputs).concat(plaintextStrings(r.state)));
    expect(plaintext.filter((s) => s.includes("CANARY"))).toEqual([]);
  });

  it("installs Debian packages on the systemd host only, the sorted list as input", () => {
    const packages = run.resources.filter((r) => r.type === PACKAGES);
    expect(packages.map((c) => c.name)).toEqual(["forge-packages"]);
    const install = packages[0].inputs as Record<string, any>;
    expect(packages[0].parentType).toBe("homefleet:host:FleetHost");
    expect(install.packages).toContain("redis-server");
    expect(install.packages).toEqual([...install.packages].sort());
    expect(install.connection).toMatchObject({ address: expect.any(String), port: 22, user: "root" });
    expect(isSecret(install.privateKey)).toBe(true);
  });
});
