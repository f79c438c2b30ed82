/**
 * homefleet-activate's generation store, run for real (the parts that need no running systemd):
 * a generation is built from an upload of only the changed files plus links to the current
 * generation, and every file is verified against the manifest.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { loadStackFile } from "../config/load";
import { stateFromParts } from "../deploy/deployHost";
import { createTar } from "../deploy/tar";
import { activateScript } from "../render/scripts/activate";

const forge = renderFleet(loadStackFile(`${__dirname}/../Pulumi.prod.yaml`)).bundles.find((b) => b.host.name === "forge")!;
const work = mkdtempSync(join(tmpdir(), "hf-gen-"));
const script = join(work, "homefleet-activate");
writeFileSync(script, activateScript.text, { mode: 0o755 });

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

function activate(stateDir: string, args: string[], input?: Buffer) {
  const r = spawnSync("bash", [script, ...args], { input, env: { ...process.env, HOMEFLEET_STATE_DIR: stateDir } });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function upload(manifest: object, files: { path: string; mode: string; content: string }[]): Buffer {
  return createTar([{ path: "manifest.json", mode: 0o644, content: JSON.stringify(manifest) }, ...files.map((f) => ({ path: `files${f.path}`, mode: parseInt(f.mode, 8), content: f.content }))]);
}

describe("generations", () => {
  const state = join(work, "state");

  it("prepares a first generation from a full upload and verifies every file", () => {
    const r = activate(state, ["prepare", "1"], upload(forge.manifest, [...forge.files]));
    expect(r).toMatchObject({ status: 0, stdout: "prepared generation 1\n" });
    const unit = forge.files.find((f) => f.path.endsWith("/redis-litellm-forge.service"))!;
    expect(readFileSync(join(state, "generations/1/files", unit.path), "utf8")).toBe(unit.content);
  });

  it("prepares the next generation from only the changed file, linking the rest", () => {
    writeFileSync(join(state, "state"), "confirmed 1 1\n");
    const changed = forge.files.find((f) => f.path.endsWith("/redis.conf"))!;
    const edited = { ...changed, content: changed.content.replace("maxmemory 256mb", "maxmemory 512mb") };
    const manifest = { ...forge.manifest, files: forge.manifest.files.map((f) => (f.path === changed.path ? { ...f, sha256: require("node:crypto").createHash("sha256").update(edited.content).digest("hex") } : f)) };
    const r = activate(state, ["prepare", "2"], upload(manifest, [edited]));
    expect(r.status).toBe(0);
    expect(readFileSync(join(state, "generations/2/files", changed.path), "utf8")).toContain("maxmemory 512mb");
    const unchanged = forge.files.find((f) => f.path.endsWith("/redis-litellm-forge.service"))!.path;
    // Hard links: the unchanged file is the very same inode as in generation 1.
    expect(statSync(join(state, "generations/2/files", unchanged)).ino).toBe(statSync(join(state, "generations/1/files", unchanged)).ino);
  });

  it("refuses an upload whose file does not match the manifest, and keeps no partial generation", () => {
    const file = forge.files[0];
    const r = activate(state, ["prepare", "3"], upload(forge.manifest, [{ ...file, content: file.content + "tampered\n" }]));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`sha256 mismatch for ${file.path}`);
    expect(() => statSync(join(state, "generations/3"))).toThrow();
  });

  it("refuses a generation number that is not a number", () => {
    expect(activate(state, ["prepare", "1; rm -rf /"]).status).toBe(2);
  });

  it("links an unchanged secret from the current generation and keeps secrets root-only", () => {
    const secret = { path: "/var/lib/homefleet/secrets/app/password", mode: "0400", owner: "root", group: "root" };
    const withSecret = (content: string) => ({ digest: sha(content), secrets: [{ ...secret, sha256: sha(content) }] });
    const first = createTar([
      { path: "manifest.json", mode: 0o644, content: JSON.stringify({ ...forge.manifest, files: [] }) },
      { path: "secrets.json", mode: 0o600, content: JSON.stringify(withSecret("s3cret-canary")) },
      { path: `secrets${secret.path}`, mode: 0o400, content: "s3cret-canary" },
    ]);
    const dir = join(work, "secrets-state");
    expect(activate(dir, ["prepare", "1"], first).status).toBe(0);
    writeFileSync(join(dir, "state"), "confirmed 1 1\n");
    // The next generation lists the same secret without sending it: linked, verified.
    const second = createTar([
      { path: "manifest.json", mode: 0o644, content: JSON.stringify({ ...forge.manifest, files: [] }) },
      { path: "secrets.json", mode: 0o600, content: JSON.stringify(withSecret("s3cret-canary")) },
    ]);
    expect(activate(dir, ["prepare", "2"], second)).toMatchObject({ status: 0, stdout: "prepared generation 2\n" });
    expect(statSync(join(dir, "generations/2/secrets", secret.path)).ino).toBe(statSync(join(dir, "generations/1/secrets", secret.path)).ino);
    expect((statSync(join(dir, "generations/2")).mode & 0o777).toString(8)).toBe("700");
    // A secret that changed but was not sent is refused.
    const third = createTar([
      { path: "manifest.json", mode: 0o644, content: JSON.stringify({ ...forge.manifest, files: [] }) },
      { path: "secrets.json", mode: 0o600, content: JSON.stringify(withSecret("another")) },
    ]);
    const r = activate(dir, ["prepare", "3"], third);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`sha256 mismatch for ${secret.path}`);
  });

  it("reports the current generation", () => {
    const r = activate(state, ["status"]);
    expect(r.status).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.current).toBe(1);
    expect(status.confirmed).toBe(1);
    expect(status.phase).toBe("confirmed");
    expect(status.manifest.sha256).toBe(forge.manifest.sha256);
    expect(Object.keys(status.generations).sort()).toEqual(["1", "2"]);
  });

  it("hands the deployer, with the deploy lock, the parts of the status it puts together as status does", () => {
    // stdin closed: the lease ends as soon as the lock is held.
    const r = activate(state, ["hold", "tester", "status"]);
    expect(r.status).toBe(0);
    expect(r.stdout.endsWith("\nheld\n")).toBe(true);
    const fromParts = stateFromParts("test", "reading the state", r.stdout.slice(0, -"\nheld\n".length));
    const status = JSON.parse(activate(state, ["status"]).stdout);
    expect(fromParts.holder).toMatch(/^tester, since \d{4}-\d\d-\d\dT/);
    expect({ ...fromParts, holder: null }).toEqual(status);
    expect(Object.keys(fromParts.files).length).toBe(forge.manifest.files.length);
  });

  it("puts the hashes the host printed with the deploy lock where they belong, and names a status cut short", () => {
    const [file] = forge.manifest.files;
    const summary = JSON.stringify({ kept: { "1": { manifest: forge.manifest.sha256, secrets: "" } }, manifest: forge.manifest, secretList: [] });
    const units = forge.manifest.start.map(() => "active");
    const parts = [summary, "state armed 1 -", "holder someone, since now", "units:", ...units, "active", "hashes:", `${"a".repeat(64)}  ${file.path}`].join("\n");
    const state = stateFromParts("test", "reading the state", parts);
    expect(state).toMatchObject({ phase: "armed", current: 1, confirmed: null, armed: true, holder: "someone, since now" });
    expect(state.files[file.path]).toBe("a".repeat(64));
    expect(Object.values(state.files).filter((h) => h === "missing").length).toBe(forge.manifest.files.length - 1);
    expect(() => stateFromParts("test", "reading the state", [summary, "state armed 1 -"].join("\n"))).toThrow(/^host test: reading the state: homefleet-activate printed no state/);
  });

  it("reads the state of a host deployed by an older homefleet (current and previous links)", () => {
    const dir = join(work, "legacy");
    expect(activate(dir, ["prepare", "1"], upload(forge.manifest, [...forge.files])).status).toBe(0);
    symlinkSync("generations/1", join(dir, "current"));
    const status = JSON.parse(activate(dir, ["status"]).stdout);
    expect(status).toMatchObject({ phase: "confirmed", current: 1, confirmed: 1 });
  });

  it("names a damaged state file and a damaged generation instead of failing on them", () => {
    const dir = join(work, "damaged");
    expect(activate(dir, ["prepare", "1"], upload(forge.manifest, [...forge.files])).status).toBe(0);
    expect(activate(dir, ["prepare", "2"], upload(forge.manifest, [...forge.files])).status).toBe(0);
    writeFileSync(join(dir, "generations/1/manifest.json"), '{"os": "systemd", "fil');
    writeFileSync(join(dir, "state"), "confirmed 2 2\n");
    const status = JSON.parse(activate(dir, ["status"]).stdout);
    expect(status.generations["1"]).toBe("damaged");
    expect(status.generations["2"]).toMatchObject({ manifest: forge.manifest.sha256 });
    writeFileSync(join(dir, "state"), "armed 2");
    const r = activate(dir, ["status"]);
    expect(r.status).toBe(76);
    expect(r.stderr).toContain(`the state file ${dir}/state is damaged`);
  });

  it("recover removes what a cut upload left behind", () => {
    const dir = join(work, "leftovers");
    expect(activate(dir, ["prepare", "1"], upload(forge.manifest, [...forge.files])).status).toBe(0);
    mkdirSync(join(dir, "generations/.2.partial/files"), { recursive: true });
    const r = activate(dir, ["recover"]);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, "generations/.2.partial"))).toBe(false);
    expect(existsSync(join(dir, "generations/1/manifest.json"))).toBe(true);
  });
});

describe("what a change restarts", () => {
  const restartOf = (suffix: string) => forge.manifest.files.find((f) => f.path.endsWith(suffix))!.restart ?? [];

  it("maps each config file to the units that read it", () => {
    expect(restartOf("/etc/homefleet/litellm-forge/redis.conf")).toEqual(["redis-litellm-forge.service"]);
    expect(restartOf("/etc/homefleet/litellm-forge/litellm-config.yaml")).toEqual(["podman-litellm-forge.service"]);
    expect(restartOf("/etc/postgresql/15/main/pg_hba.conf")).toEqual(["postgresql@15-main.service"]);
    expect(restartOf("/etc/default/prometheus-node-exporter")).toEqual(["prometheus-node-exporter.service"]);
  });

  it("never restarts a oneshot job, which would run a backup", () => {
    expect(restartOf("/etc/systemd/system/homefleet-backup-postgresql.service")).toEqual([]);
    expect(restartOf("/etc/systemd/system/homefleet-backup-postgresql.timer")).toEqual(["homefleet-backup-postgresql.timer"]);
    expect(forge.manifest.start).not.toContain("homefleet-backup-postgresql.service");
    expect(forge.manifest.start).toContain("homefleet-backup-postgresql.timer");
  });
});
