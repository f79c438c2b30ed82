/**
 * The Pulumi program under the mock runtime: the resource tree it registers, parents, secrets.
 */
import { canaryFor, plaintextStrings, resolve, runProgram, SECRET_SIG, stackFileConfig, type ProgramRun } from "./support/pulumiMocks";
import { stagingRelease } from "./support/promotion";

process.env.PULUMI_ERROR_OUTPUT_STRING = "true";

const root = `${__dirname}/..`;

describe("the prod stack under the mock runtime", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram(stackFileConfig(`${root}/Pulumi.prod.yaml`), undefined, { stackOutputs: { staging: { release: stagingRelease() } } });
  });

  it("runs without error", () => {
    expect(run.error).toBeUndefined();
  });

  it("registers one FleetHost per host and one ServiceStack per stack, each stack under its host", () => {
    const hosts = run.resources.filter((r) => r.type === "homefleet:host:FleetHost").map((r) => r.name).sort();
    expect(hosts).toEqual(["forge", "vulcan"]);
    const stacks = run.resources.filter((r) => r.type === "homefleet:stack:ServiceStack");
    expect(stacks.map((s) => s.name).sort()).toEqual(["litellm", "litellm-forge", "wallabag"]);
    for (const s of stacks) expect(s.parentType).toBe("homefleet:host:FleetHost");
  });

  it("gives every resource but the root stack a parent, and names children after it", () => {
    const roots = run.resources.filter((r) => r.parentType === undefined);
    expect(roots.map((r) => r.type)).toEqual(["pulumi:pulumi:Stack"]);
    const byType = (t: string) => run.resources.filter((r) => r.type === t);
    for (const db of byType("homefleet:postgres:Database")) expect(db.parentType).toBe("homefleet:stack:ServiceStack");
    for (const c of byType("homefleet:redis:Cache")) expect(c.parentType).toBe("homefleet:stack:ServiceStack");
    for (const c of byType("homefleet:container:ContainerService")) expect(c.parentType).toBe("homefleet:stack:ServiceStack");
    const stackNames = byType("homefleet:stack:ServiceStack").map((s) => s.name);
    for (const child of [...byType("homefleet:postgres:Database"), ...byType("homefleet:redis:Cache"), ...byType("homefleet:container:ContainerService")]) {
      expect(stackNames.some((s) => child.name.startsWith(`${s}-`))).toBe(true);
    }
    for (const pw of byType("pulumi-nodejs:dynamic/homefleet:GeneratedSecret")) {
      expect(["homefleet:postgres:Database", "homefleet:redis:Cache", "homefleet:container:ContainerService"]).toContain(pw.parentType);
    }
  });

  it("shows each host's backups, certificates and exporters as components, under the stack they serve or else the host", () => {
    const byType = (t: string) => run.resources.filter((r) => r.type === t);
    const state = (r: { state: unknown }) => r.state as Record<string, unknown>;
    const backups = byType("homefleet:backup:BackupSchedule");
    expect(backups.map((b) => `${b.parentType} ${b.name}`).sort()).toEqual([
      "homefleet:host:FleetHost forge-config-backup",
      "homefleet:host:FleetHost forge-postgresql-backup",
      "homefleet:host:FleetHost vulcan-config-backup",
      "homefleet:host:FleetHost vulcan-postgresql-backup",
      "homefleet:stack:ServiceStack litellm-forge-redis-backup",
      "homefleet:stack:ServiceStack litellm-redis-backup",
      "homefleet:stack:ServiceStack wallabag-volumes-backup",
    ]);
    const dumps = state(backups.find((b) => b.name === "vulcan-postgresql-backup")!);
    expect(dumps).toMatchObject({ job: "homefleet-backup-postgresql", kind: "postgresql", saves: ["litellm", "wallabag"], schedule: expect.stringMatching(/^\*-\*-\* \d\d:\d\d:00$/), retention: expect.stringMatching(/days$/) });
    const certs = byType("homefleet:cert:Certificate");
    expect(certs.map((c) => c.name).sort()).toEqual(["forge-llm-public-certificate", "vulcan-litellm-vulcan-lan-certificate", "vulcan-wallabag-vulcan-lan-certificate"]);
    expect(state(certs.find((c) => c.name === "forge-llm-public-certificate")!)).toMatchObject({ domains: ["llm.example.org"], issuer: "acme", expiryCheck: { job: "homefleet-cert-check" } });
    const exporters = byType("homefleet:monitoring:Exporter");
    const forgeNode = state(exporters.find((e) => e.name === "forge-node-exporter")!);
    // vulcan runs Prometheus and scrapes forge's exporters over the LAN.
    expect(forgeNode).toMatchObject({ kind: "node", unit: "prometheus-node-exporter.service", scrapeTarget: "192.168.1.20:9100", scrapedBy: "vulcan" });
    const redis = exporters.find((e) => e.name === "litellm-forge-redis-exporter")!;
    expect(redis.parentType).toBe("homefleet:stack:ServiceStack");
    expect(state(redis)).toMatchObject({ unit: "homefleet-redis-exporter-litellm-forge.service", scrapedBy: "vulcan" });
  });

  it("generates a database password, a Redis password and a master key as generated secrets", () => {
    const names = run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/homefleet:GeneratedSecret").map((r) => r.name).sort();
    expect(names).toEqual([
      "litellm-cache-password",
      "litellm-container-master-key",
      "litellm-database-password",
      "litellm-forge-cache-password",
      "litellm-forge-container-master-key",
      "litellm-forge-database-password",
      "wallabag-database-password",
    ]);
    for (const r of run.resources.filter((x) => x.type === "pulumi-nodejs:dynamic/homefleet:GeneratedSecret")) {
      expect(Object.keys(r.inputs).filter((k) => k !== "__provider").sort()).toEqual(["length"]);
      expect(r.inputs.length as number).toBeGreaterThanOrEqual(32);
    }
  });

  it("keeps every generated secret out of every plaintext input and output in state", () => {
    const canaries = run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/homefleet:GeneratedSecret").map((r) => canaryFor(r.name));
    const plaintext = run.resources
      .filter((r) => r.type !== "pulumi-nodejs:dynamic/homefleet:GeneratedSecret")
      .flatMap((r) => plaintextStrings(r.state).concat(plaintextStrings(r.inputs)));
    expect(plaintext.length).toBeGreaterThan(50);
    for (const canary of canaries) expect(plaintext.filter((s) => s.includes(canary))).toEqual([]);
  });

  it("holds the composed secret files in state only as secrets", () => {
    const stack = run.resources.find((r) => r.type === "homefleet:stack:ServiceStack" && r.name === "litellm")!;
    const secretFiles = (stack.state as Record<string, Record<string, unknown>>).secretFiles;
    // The whole list is one secret envelope: the engine encrypts its value in the state file.
    expect(secretFiles[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(JSON.stringify(secretFiles.value)).toContain(canaryFor("litellm-database-password"));
    expect(plaintextStrings(stack.state).join("\n")).not.toContain("CANARY");
  });

  it("exports per host the manifest hash and the file list, with no secret in them", async () => {
    const hosts = run.outputs!.hosts as Record<string, unknown>;
    const vulcan = await resolve(hosts.vulcan as never);
    const value = vulcan.value as { os: string; manifestSha256: string; files: string[]; secretFiles: string[] };
    expect(vulcan.secret).toBe(false);
    expect(value.os).toBe("nixos");
    expect(value.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(value.files).toContain(value.files.find((f) => f.startsWith("/etc/nixos/homefleet/litellm.nix 0644 ")));
    expect(value.secretFiles).toContain("/var/lib/homefleet/secrets/litellm/container.env");
    expect(JSON.stringify(value)).not.toContain("CANARY");
  });
});

describe("secret values in the composed files", () => {
  it("puts the generated passwords into the env file, URL-encoded in DATABASE_URL, as a Pulumi secret", async () => {
    const { ServiceStack } = await import("../components/ServiceStack");
    const { buildFleetModel } = await import("../model/build");
    const { loadStackFile } = await import("../config/load");
    const pulumi = await import("@pulumi/pulumi");
    const model = buildFleetModel(loadStackFile(`${root}/Pulumi.prod.yaml`));
    const stackModel = model.hosts.find((h) => h.name === "vulcan")!.stacks.find((s) => s.name === "litellm")!;
    let files: { value: { path: string; content: string }[]; secret: boolean } | undefined;
    await pulumi.runtime.runInPulumiStack(async () => {
      const stack = new ServiceStack("litellm", { stack: stackModel, configSecrets: {} });
      files = await resolve(stack.secretFiles);
      return {};
    });
    expect(files!.secret).toBe(true);
    const env = files!.value.find((f) => f.path.endsWith("/container.env"))!.content;
    expect(env).toContain(`LITELLM_MASTER_KEY=sk-${canaryFor("litellm-container-master-key")}\n`);
    expect(env).toContain(`DATABASE_URL=postgresql://litellm:${canaryFor("litellm-database-password")}@10.89.0.1:5432/litellm\n`);
    expect(env).toContain(`REDIS_PASSWORD=${canaryFor("litellm-cache-password")}\n`);
    const dbPassword = files!.value.find((f) => f.path.endsWith("/database-password"))!.content;
    expect(dbPassword).toBe(canaryFor("litellm-database-password"));
  });
});
