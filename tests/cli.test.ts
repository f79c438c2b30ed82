/**
 * `homefleet render`: what it writes, that it writes the same bytes every time, what it refuses,
 * and that secrets stay out of the output. Most cases call main() with captured output; one runs
 * the real launcher in a child process.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { stackFileText, syntheticFleetConfig } from "../bench/synthetic";
import { main } from "../cli/main";
import { RENDER_INDEX } from "../cli/render";
import { fileTree, type TreeFile } from "./support/fileTree";

const ROOT = join(__dirname, "..");
const FIXTURES = join(__dirname, "fixtures");

interface Manifest {
  generator: string;
  hosts: Record<
    string,
    {
      os: string;
      arch: string;
      files: { path: string; mode: string; sha256: string; size: number }[];
      secretFiles: { path: string; mode: string }[];
    }
  >;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main() as `homefleet <args>` in `cwd`, capturing what it prints. */
async function homefleetIn(cwd: string, ...args: string[]): Promise<Run> {
  const captured = { stdout: "", stderr: "" };
  const io = {
    out: { write: (s: string) => ((captured.stdout += s), true) },
    err: { write: (s: string) => ((captured.stderr += s), true) },
    cwd,
  } as unknown as NonNullable<Parameters<typeof main>[1]>;
  const code = await main(["node", "homefleet", ...args], io);
  return { code, ...captured };
}

/** `homefleet <args>` from the repository root. */
function homefleet(...args: string[]): Promise<Run> {
  return homefleetIn(ROOT, ...args);
}

/** The rendered tree (tests/support/fileTree.ts), without the render index a render over an earlier one may leave (cli/render.ts). */
function tree(dir: string): Map<string, TreeFile> {
  return fileTree(dir, [RENDER_INDEX]);
}

function readManifest(out: string): Manifest {
  return JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as Manifest;
}

let scratch: string;
let staging: string;
let stagingRun: Run;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "homefleet-cli-"));
  staging = join(scratch, "staging");
  stagingRun = await homefleet("render", "--stack", "staging", "--out", staging);
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("render --stack staging --out <dir>", () => {
  it("succeeds and says what it wrote", () => {
    expect(stagingRun).toEqual({ code: 0, stdout: `rendered 49 files for 2 hosts (box-staging: 36, pi-staging: 13) into ${staging}\n`, stderr: "" });
  });

  it("describes each host's os and arch in manifest.json", () => {
    const manifest = readManifest(staging);
    expect(manifest.generator).toBe("homefleet");
    expect(Object.fromEntries(Object.entries(manifest.hosts).map(([name, h]) => [name, { os: h.os, arch: h.arch }]))).toEqual({
      "box-staging": { os: "systemd", arch: "x86_64" },
      "pi-staging": { os: "nixos", arch: "aarch64" },
    });
  });

  it("writes exactly the manifest's files, each at <out>/<host>/<absolute path>", () => {
    const manifest = readManifest(staging);
    const listed = Object.entries(manifest.hosts).flatMap(([host, h]) => h.files.map((f) => join(host, f.path)));
    expect(listed.every((p) => !p.startsWith("/"))).toBe(true);
    expect([...tree(staging).keys()].sort()).toEqual(["manifest.json", ...listed].sort());
  });

  it("lists for every file the sha256, size and mode of what is on disk", () => {
    const manifest = readManifest(staging);
    for (const [host, h] of Object.entries(manifest.hosts)) {
      for (const f of h.files) {
        const target = join(staging, host, f.path);
        const bytes = readFileSync(target);
        const onDisk = { path: f.path, mode: (statSync(target).mode & 0o7777).toString(8).padStart(4, "0"), sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
        const { restart: _restart, owner: _owner, group: _group, ...recorded } = f as typeof f & { restart?: string[]; owner?: string; group?: string };
        expect(onDisk).toEqual(recorded);
      }
    }
  });

  it("lists secret files by path but never writes them", () => {
    const manifest = readManifest(staging);
    for (const [host, h] of Object.entries(manifest.hosts)) {
      expect(h.secretFiles.length).toBeGreaterThan(0);
      for (const secret of h.secretFiles) {
        expect({ host, secret: secret.path, rendered: existsSync(join(staging, host, secret.path)) }).toEqual({ host, secret: secret.path, rendered: false });
        expect(h.files.map((f) => f.path)).not.toContain(secret.path);
      }
    }
  });
});

describe("repeatability", () => {
  it("writes byte-identical trees, modes included, when rendering the same stack into another directory", async () => {
    const again = join(scratch, "staging-again");
    expect((await homefleet("render", "--stack", "staging", "--out", again)).code).toBe(0);
    expect(tree(again)).toEqual(tree(staging));
  });

  it("replaces an earlier render in the same directory, leaving nothing of it behind", async () => {
    const out = join(scratch, "rerender");
    expect((await homefleet("render", "--stack", "prod", "--out", out)).code).toBe(0);
    writeFileSync(join(out, "pi-staging-leftover.txt"), "stale\n");
    writeFileSync(join(out, "vulcan", "etc", "stray.conf"), "stale\n");

    expect((await homefleet("render", "--stack", "staging", "--out", out)).code).toBe(0);
    expect(tree(out)).toEqual(tree(staging));
  });
});

describe("refusals", () => {
  it("refuses a non-empty directory that holds no render, and leaves it alone", async () => {
    const foreign = join(scratch, "foreign");
    mkdirSync(foreign);
    writeFileSync(join(foreign, "notes.txt"), "mine\n");

    const run = await homefleet("render", "--stack", "staging", "--out", foreign);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`homefleet: ${foreign} is not empty and holds no homefleet render (no manifest.json written by homefleet); choose an empty or new directory\n`);
    expect([...tree(foreign).keys()]).toEqual(["notes.txt"]);
  });

  it("refuses a file where the directory should be, and leaves it alone", async () => {
    const file = join(scratch, "a-file");
    writeFileSync(file, "mine\n");
    for (const out of [file, join(file, "below")]) {
      const run = await homefleet("render", "--stack", "staging", "--out", out);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 1, stderr: `homefleet: ${out} is not a directory (it, or a directory it would be in, is a file); choose an empty or new directory\n` });
    }
    expect(readFileSync(file, "utf8")).toBe("mine\n");
  });

  it("says the config's warnings before it refuses the directory", async () => {
    const dir = join(scratch, "warned");
    mkdirSync(join(dir, "foreign"), { recursive: true });
    writeFileSync(join(dir, "foreign", "notes.txt"), "mine\n");
    const stack = [
      "config:",
      "  homefleet:hosts:",
      "    box: {address: 192.0.2.10, arch: x86_64, os: systemd}",
      "  homefleet:stacks:",
      "    web:",
      "      host: box",
      "      kind: container",
      "      network: {mode: host}",
      '      container: {image: "docker.io/library/nginx:1.27.3", port: 80, healthCheck: {path: /}}',
      "",
    ].join("\n");
    writeFileSync(join(dir, "Pulumi.warned.yaml"), stack);
    const warning = "warning: stack web: network.mode host gives the container the host's network stack (no isolation from the host); prefer a bridge network\n";

    const refused = await homefleetIn(dir, "render", "--stack", "warned", "--out", "foreign");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`${warning}homefleet: ${join(dir, "foreign")} is not empty and holds no homefleet render (no manifest.json written by homefleet); choose an empty or new directory\n`);

    const rendered = await homefleetIn(dir, "render", "--stack", "warned", "--out", "out");
    expect(rendered).toEqual({ code: 0, stdout: "rendered 11 files for 1 host (box: 11) into out\n", stderr: warning });
  });

  it("names each host with its file count for a few hosts, and gives a fleet's totals only", async () => {
    const dir = join(scratch, "fleet-line");
    mkdirSync(dir);
    writeFileSync(join(dir, "Pulumi.fleet.yaml"), stackFileText(syntheticFleetConfig(11)));
    const fleet = await homefleetIn(dir, "render", "--stack", "fleet", "--out", "out");
    expect(fleet).toEqual({ code: 0, stdout: "rendered 253 files for 11 hosts into out\n", stderr: "" });
    writeFileSync(join(dir, "Pulumi.ten.yaml"), stackFileText(syntheticFleetConfig(10)));
    const ten = await homefleetIn(dir, "render", "--stack", "ten", "--out", "ten");
    expect(ten.stdout).toMatch(/^rendered 240 files for 10 hosts \(host0: 13, host1: 35, .*, host9: 35\) into ten\n$/);
  });

  it("refuses a directory whose manifest.json some other tool wrote, and leaves it alone", async () => {
    const webapp = join(scratch, "webapp");
    mkdirSync(webapp);
    writeFileSync(join(webapp, "manifest.json"), '{ "name": "my-pwa", "start_url": "/" }\n');
    writeFileSync(join(webapp, "index.html"), "<!doctype html>\n");

    const run = await homefleet("render", "--stack", "staging", "--out", webapp);
    expect(run.code).toBe(1);
    expect([...tree(webapp).keys()]).toEqual(["index.html", "manifest.json"]);
  });

  it("exits non-zero on invalid config, naming the config path and reason, and writes nothing", async () => {
    const out = join(scratch, "bad-port");
    const run = await homefleet("render", "--config", join(FIXTURES, "bad-port.yaml"), "--out", out);
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr: 'homefleet: invalid configuration\n  tests/fixtures/bad-port.yaml:16:9: homefleet:stacks.litellm.container.port: expected integer 1-65535, got "40o0"\n',
    });
    expect(existsSync(out)).toBe(false);
  });

  it("refuses --stack and --config together", async () => {
    const out = join(scratch, "both");
    const run = await homefleet("render", "--stack", "staging", "--config", "Pulumi.prod.yaml", "--out", out);
    expect(run).toEqual({ code: 1, stdout: "", stderr: "homefleet: give either --stack or --config, not both\n" });
    expect(existsSync(out)).toBe(false);
  });

  it("names an unknown stack and the stacks there are", async () => {
    const run = await homefleet("render", "--stack", "stagin", "--out", join(scratch, "typo"));
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr: `homefleet: unknown stack "stagin": ${join(ROOT, "Pulumi.stagin.yaml")} does not exist (stacks in ${ROOT}: prod, staging)\n`,
    });
  });
});

describe("init", () => {
  it("writes a starter stack file that renders clean and reviews without an error, and never overwrites one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homefleet-init-"));
    expect(await homefleetIn(dir, "init", "--stack", "home")).toEqual({ code: 0, stdout: "wrote Pulumi.home.yaml; next: npx homefleet render --stack home --out out\n", stderr: "" });
    expect(readFileSync(join(dir, "Pulumi.home.yaml"), "utf8")).toContain('# homefleet stack "home"');
    expect(await homefleetIn(dir, "render", "--stack", "home", "--out", "out")).toMatchObject({ code: 0, stderr: "" });
    expect(Object.keys(JSON.parse(readFileSync(join(dir, "out", "manifest.json"), "utf8")).hosts)).toEqual(["box"]);
    const review = await homefleetIn(dir, "review", "--stack", "home", "--no-exposure", "--out", "review.md");
    expect(review.code).toBe(0);
    expect(review.stderr).not.toContain("error:");
    const again = await homefleetIn(dir, "init", "--stack", "home");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("exists already: homefleet init never overwrites a stack file");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("--version and schema", () => {
  it("--version prints the version of package.json", async () => {
    const run = await homefleet("--version");
    expect(run).toEqual({ code: 0, stdout: `${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version}\n`, stderr: "" });
  });

  it("schema accepts both committed stack files and names a misspelt key, as an editor would show it", async () => {
    const run = await homefleet("schema");
    expect(run.code).toBe(0);
    const Ajv2020 = require("ajv/dist/2020").default;
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(JSON.parse(run.stdout));
    for (const stack of ["staging", "prod"]) {
      const doc = parseYaml(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
      expect({ stack, valid: validate(doc), errors: validate.errors ?? null }).toEqual({ stack, valid: true, errors: null });
    }
    const typo = parseYaml(readFileSync(join(ROOT, "Pulumi.staging.yaml"), "utf8"));
    typo.config["homefleet:stacks"]["litellm-pi"].container.memroyMax = "1G";
    expect(validate(typo)).toBe(false);
    expect(validate.errors).toContainEqual(expect.objectContaining({ instancePath: "/config/homefleet:stacks/litellm-pi/container", keyword: "additionalProperties", params: { additionalProperty: "memroyMax" } }));
  });
});

describe("secrets", () => {
  it("never copies a secret config value into rendered files or the manifest", async () => {
    const fixture = join(FIXTURES, "secret-api-key.yaml");
    const ciphertext = /secure: (\S+)/.exec(readFileSync(fixture, "utf8"))?.[1] as string;
    expect(ciphertext).toMatch(/^v1:/);
    const out = join(scratch, "secret");
    expect((await homefleet("render", "--config", fixture, "--out", out)).code).toBe(0);

    const leaks = [...tree(out)].filter(([, f]) => f.bytes.includes(ciphertext)).map(([p]) => p);
    expect(leaks).toEqual([]);
  });

  it("lists the env file that will carry the API key as a secret file, and does not write it", async () => {
    const out = join(scratch, "secret-files");
    expect((await homefleet("render", "--config", join(FIXTURES, "secret-api-key.yaml"), "--out", out)).code).toBe(0);
    const box = readManifest(out).hosts.box;
    const envFiles = box.secretFiles.filter((s) => s.path.endsWith("/container.env"));
    expect(envFiles).toHaveLength(1);
    expect(envFiles[0].mode).toBe("0400");
    expect(existsSync(join(out, "box", envFiles[0].path))).toBe(false);
  });
});

describe("the real launcher, node bin/homefleet.js", () => {
  const compiled = join(ROOT, "dist", "cli", "main.js");

  /** dist/ is built by `npm ci` (prepare); rebuild it if it is missing or older than a source file. */
  function distIsStale(): boolean {
    if (!existsSync(compiled)) return true;
    const built = statSync(compiled).mtimeMs;
    const sources = ["cli", "config", "model", "render", "bundle"].flatMap((d) =>
      readdirSync(join(ROOT, d), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts"))
        .map((f) => join(ROOT, d, f)),
    );
    return sources.some((f) => statSync(f).mtimeMs > built);
  }

  beforeAll(() => {
    if (!distIsStale()) return;
    const tsc = spawnSync("npx", ["tsc", "-p", "."], { cwd: ROOT, encoding: "utf8" });
    if (tsc.status !== 0) throw new Error(`npx tsc -p . failed:\n${tsc.stdout}${tsc.stderr}`);
  });

  it("renders the same tree as main() and exits 0", () => {
    const out = join(scratch, "launcher");
    const child = spawnSync(process.execPath, [join(ROOT, "bin", "homefleet.js"), "render", "--stack", "staging", "--out", out], { cwd: ROOT, encoding: "utf8" });
    expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: "" });
    expect(tree(out)).toEqual(tree(staging));
  });

  it("renders to the end and exits 0, quietly, when the reader of its output has gone", async () => {
    // `homefleet render ... | head -0`: the pipe's reading end is closed before the CLI writes its summary.
    const out = join(scratch, "reader-gone");
    const child = spawn(process.execPath, [join(ROOT, "bin", "homefleet.js"), "render", "--stack", "staging", "--out", out], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(tree(out)).toEqual(tree(staging));
  });
});
