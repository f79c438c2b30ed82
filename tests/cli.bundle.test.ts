/**
 * bin/homefleet.js runs the CLI from one bundled file with V8's code cache (bin/cliBundle.js),
 * and bin/homefleet (the command users run) starts it from a startup snapshot of that bundle
 * (bin/cliSnapshot.js). Both must behave as the compiled modules do, and neither may be used once
 * a file the bundle was built from is newer than it.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { stackFileText, syntheticFleetConfig } from "../bench/synthetic";
import { renderFleet } from "../bundle/hostBundle";
import { main } from "../cli/main";
import { writeRender } from "../cli/render";
import { parseFleetConfig } from "../config/load";
import { fileTree, type TreeFile } from "./support/fileTree";
import { shellcheckFile } from "./support/validators";

const ROOT = join(__dirname, "..");
const bundle = require("../bin/cliBundle.js") as { BUNDLE: string; INPUTS: string; bundleIsFresh(): boolean };
const snapshot = require("../bin/cliSnapshot.js") as {
  SNAPSHOT_FLAGS: string[];
  snapshotBlob(version: string): string;
  snapshotApplies(facts: { script?: string; builtFor: string; builtId?: string; idOnDisk?: string; bundleFresh: boolean }): boolean;
};

/** dist/ as the sources are now (as tests/cli.test.ts's launcher test does), then the bundle and its cache. */
function build(): void {
  const compiled = join(ROOT, "dist", "cli", "main.js");
  const built = existsSync(compiled) ? statSync(compiled).mtimeMs : 0;
  const sources = ["cli", "config", "model", "render", "bundle", "review"].flatMap((d) =>
    readdirSync(join(ROOT, d), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => join(ROOT, d, f)),
  );
  if (sources.some((f) => statSync(f).mtimeMs > built)) {
    const tsc = spawnSync("npx", ["tsc", "-p", "."], { cwd: ROOT, encoding: "utf8" });
    if (tsc.status !== 0) throw new Error(`npx tsc -p . failed:\n${tsc.stdout}${tsc.stderr}`);
  }
  // `npm ci` built them already: build again only what a change made stale.
  if (bundle.bundleIsFresh() && existsSync(snapshot.snapshotBlob(process.version))) return;
  const run = spawnSync(process.execPath, [join(ROOT, "bin", "build-cli-bundle.js")], { cwd: ROOT, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`bin/build-cli-bundle.js failed:\n${run.stdout}${run.stderr}`);
}

let scratch: string;
let prodRendered: Map<string, TreeFile> | undefined;

/** The tree main() renders for the prod stack, in this process (rendered once). */
async function prodFromMain(): Promise<Map<string, TreeFile>> {
  if (!prodRendered) {
    const fromMain = join(scratch, "main");
    const quiet = { write: () => true };
    const io = { out: quiet, err: quiet, cwd: ROOT } as unknown as NonNullable<Parameters<typeof main>[1]>;
    expect(await main(["node", "homefleet", "render", "--stack", "prod", "--out", fromMain], io)).toBe(0);
    prodRendered = fileTree(fromMain);
  }
  return prodRendered;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "homefleet-bundle-test-"));
  build();
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it("renders from the bundle the same tree as main(), with nothing on stderr", async () => {
  expect(bundle.bundleIsFresh()).toBe(true);
  const fromBundle = join(scratch, "bundle");
  const child = spawnSync(process.execPath, [join(ROOT, "bin", "homefleet.js"), "render", "--stack", "prod", "--out", fromBundle], { cwd: ROOT, encoding: "utf8" });
  expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: "" });

  expect(fileTree(fromBundle)).toEqual(await prodFromMain());
});

it("writes its output through pipes without making process.stdout or process.stderr, and errors as before", () => {
  // Preloaded: records whether anything asked for node's stdio streams, and says so at exit.
  const trap = join(scratch, "stdio-trap.js");
  writeFileSync(
    trap,
    `const asked = [];
for (const name of ["stdout", "stderr"]) {
  const d = Object.getOwnPropertyDescriptor(process, name);
  Object.defineProperty(process, name, { configurable: true, enumerable: d.enumerable, get() { asked.push(name); return d.get.call(this); } });
}
process.on("exit", () => require("node:fs").writeSync(2, "asked: " + JSON.stringify(asked) + "\\n"));
`,
  );
  const run = (...args: string[]) => spawnSync(process.execPath, ["-r", trap, join(ROOT, "bin", "homefleet.js"), ...args], { cwd: ROOT, encoding: "utf8" });
  // The trap sees a program that does make them.
  expect(spawnSync(process.execPath, ["-r", trap, "-e", "process.stdout.write('x')"], { encoding: "utf8" }).stderr).toBe('asked: ["stdout"]\n');
  const out = join(scratch, "stdio");
  const render = run("render", "--stack", "staging", "--out", out);
  expect({ status: render.status, stdout: render.stdout, stderr: render.stderr }).toEqual({ status: 0, stdout: `rendered 49 files for 2 hosts (box-staging: 36, pi-staging: 13) into ${out}\n`, stderr: 'asked: []\n' });
  // An error reaches stderr through the same writer.
  const unknown = run("render", "--stack", "no-such-stack", "--out", out);
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toMatch(/^homefleet: unknown stack "no-such-stack": .*\nasked: \[\]\n$/);
  // Large output (more than a pipe holds) arrives whole.
  const schema = run("schema");
  expect(schema.status).toBe(0);
  expect(JSON.parse(schema.stdout).$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  expect(schema.stdout.length).toBeGreaterThan(65536);
});

it("keeps the files of hosts that did not change since the last render there, from the snapshot and from a plain start", async () => {
  const out = join(scratch, "kept");
  const env = { ...process.env, NODE_OPTIONS: "" };
  const render = (launcher: string[]) => {
    const run = spawnSync(launcher[0], [...launcher.slice(1), "render", "--stack", "staging", "--out", out], { cwd: ROOT, encoding: "utf8", env });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: "" });
    return run.stdout;
  };
  const snapshotStart = [join(ROOT, "bin", "homefleet")];
  const plainStart = [process.execPath, join(ROOT, "bin", "homefleet.js")];
  const rendered = `rendered 49 files for 2 hosts (box-staging: 36, pi-staging: 13) into ${out}`;
  expect(render(snapshotStart)).toBe(`${rendered}\n`);
  // What a render wrote is trusted once it has settled (cli/render.ts): a second later.
  spawnSync("sleep", ["1.1"]);
  expect(render(snapshotStart)).toBe(`${rendered}\n`);
  const kept = `${rendered}; 2 of the hosts had not changed since the last render there, their files were kept\n`;
  expect(render(snapshotStart)).toBe(kept);
  expect(render(plainStart)).toBe(kept);
  const fromMain = join(scratch, "kept-from-main");
  const quiet = { write: () => true };
  expect(await main(["node", "homefleet", "render", "--stack", "staging", "--out", fromMain], { out: quiet, err: quiet, cwd: ROOT } as unknown as NonNullable<Parameters<typeof main>[1]>)).toBe(0);
  expect(fileTree(out, [".homefleet-render-index"])).toEqual(fileTree(fromMain));
});

/** Whether the bundle is still fresh once `file` is a minute newer than it (the file's times are put back after). */
function freshAfterTouching(file: string): boolean {
  const { atime, mtime } = statSync(file);
  try {
    const later = new Date(statSync(bundle.BUNDLE).mtimeMs + 60_000);
    utimesSync(file, later, later);
    return bundle.bundleIsFresh();
  } finally {
    utimesSync(file, atime, mtime);
  }
}

it("is not used once a compiled file it was built from is newer than it", () => {
  const inputs = JSON.parse(readFileSync(bundle.INPUTS, "utf8")) as string[];
  expect(inputs).toContain("dist/cli/render.js");
  expect(freshAfterTouching(join(ROOT, "dist", "cli", "render.js"))).toBe(false);
  expect(bundle.bundleIsFresh()).toBe(true);
});

it("is not used once a host script is newer than it: the startup snapshot holds the scripts as they were", () => {
  const inputs = JSON.parse(readFileSync(bundle.INPUTS, "utf8")) as string[];
  const scripts = readdirSync(join(ROOT, "render", "scripts"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".sh"));
  expect(scripts.length).toBeGreaterThan(5);
  for (const f of scripts) expect(inputs).toContain(`render/scripts/${f}`);
  expect(inputs).toContain("package.json");
  expect(freshAfterTouching(join(ROOT, "render", "scripts", "lib", "backup-common.sh"))).toBe(false);
  expect(bundle.bundleIsFresh()).toBe(true);
});

describe("bin/homefleet, from the startup snapshot", () => {
  const blob = snapshot.snapshotBlob(process.version);
  /** Under NODE_OPTIONS the launcher does not use the snapshot (and node would refuse one given). */
  const withoutNodeOptions = { ...process.env, NODE_OPTIONS: "" };

  it("is built for this node, and renders the same tree as main() with nothing on stderr", async () => {
    expect(existsSync(blob)).toBe(true);
    expect(readFileSync(`${blob}.node`, "utf8")).toBe(`${realpathSync(process.execPath)}\n--no-rehash-snapshot --interrupt-budget=270336\n`);
    const fromSnapshot = join(scratch, "snapshot");
    // NODE_DEBUG=module logs every module node's loader loads to stderr: a start that fell back to
    // bin/homefleet.js would load it and bin/cliBundle.js; the snapshot's CLI loads none.
    const child = spawnSync(join(ROOT, "bin", "homefleet"), ["render", "--stack", "prod", "--out", fromSnapshot], { cwd: ROOT, encoding: "utf8", env: { ...withoutNodeOptions, NODE_DEBUG: "module" } });
    expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: "" });

    expect(fileTree(fromSnapshot)).toEqual(await prodFromMain());

    // Errors and their exit status are the plain start's.
    const unknown = spawnSync(join(ROOT, "bin", "homefleet"), ["render", "--stack", "no-such-stack", "--out", fromSnapshot], { cwd: ROOT, encoding: "utf8", env: withoutNodeOptions });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^homefleet: unknown stack "no-such-stack": /);
  });

  it("renders a fleet into a new directory through its helper thread (worker_threads, loaded only after the start)", () => {
    // A Worker made in a process started from a snapshot that had loaded node:worker_threads
    // never runs: the render would give up after 15 s with nothing written.
    const stackFile = join(scratch, "Pulumi.fleet20.yaml");
    writeFileSync(stackFile, stackFileText(syntheticFleetConfig(20)));
    const out = join(scratch, "fleet20-snapshot");
    const child = spawnSync(join(ROOT, "bin", "homefleet"), ["render", "--config", stackFile, "--out", out], { cwd: ROOT, encoding: "utf8", env: { ...withoutNodeOptions, NODE_DEBUG: "module" }, timeout: 40_000 });
    expect({ status: child.status, signal: child.signal, stderr: child.stderr }).toEqual({ status: 0, signal: null, stderr: "" });
    expect(child.stdout).toMatch(/^rendered 4\d\d files for 20 hosts /);
    const plain = join(scratch, "fleet20-plain");
    writeRender(renderFleet(parseFleetConfig(syntheticFleetConfig(20))), plain);
    expect(fileTree(out)).toEqual(fileTree(plain));
  });

  it("runs the script it was started with when that is not the launcher it was built beside", () => {
    // A moved project, say: the snapshot's CLI is not used; the script runs as `node <script>` would.
    const other = join(scratch, "other.js");
    writeFileSync(other, 'process.stdout.write(JSON.stringify(process.argv.slice(2)) + "\\n");');
    const run = spawnSync(process.execPath, [...snapshot.SNAPSHOT_FLAGS, "--snapshot-blob", blob, other, "render", "--stack", "prod"], { encoding: "utf8", env: { ...withoutNodeOptions, NODE_DEBUG: "module" } });
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: '["render","--stack","prod"]\n' });
    // It was loaded as a module (what the snapshot's CLI never does: see above).
    expect(run.stderr).toContain(`load "${other}"`);
    // Named relative to the working directory, as `node other.js` takes it.
    const relative = spawnSync(process.execPath, [...snapshot.SNAPSHOT_FLAGS, "--snapshot-blob", blob, "other.js", "x"], { cwd: scratch, encoding: "utf8", env: withoutNodeOptions });
    expect({ status: relative.status, stdout: relative.stdout, stderr: relative.stderr }).toEqual({ status: 0, stdout: '["x"]\n', stderr: "" });
    // Without a script it says how it is started.
    const bare = spawnSync(process.execPath, [...snapshot.SNAPSHOT_FLAGS, "--snapshot-blob", blob], { encoding: "utf8", env: withoutNodeOptions });
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/started by bin\/homefleet/);
  });

  it("runs the snapshot's CLI only for its own launcher, bundle and build", () => {
    const facts = { script: "/p/bin/homefleet.js", builtFor: "/p/bin/homefleet.js", builtId: "ab12", idOnDisk: "ab12", bundleFresh: true };
    expect(snapshot.snapshotApplies(facts)).toBe(true);
    expect(snapshot.snapshotApplies({ ...facts, script: "/moved/bin/homefleet.js" })).toBe(false);
    expect(snapshot.snapshotApplies({ ...facts, script: undefined })).toBe(false);
    expect(snapshot.snapshotApplies({ ...facts, idOnDisk: "cd34" })).toBe(false);
    expect(snapshot.snapshotApplies({ ...facts, idOnDisk: undefined, builtId: undefined })).toBe(false);
    expect(snapshot.snapshotApplies({ ...facts, bundleFresh: false })).toBe(false);
  });

  it("is started only for the node it was built by (version and executable), and never under NODE_OPTIONS", () => {
    // The launcher in a tree of its own, linked as npm links it, with a node on PATH that prints
    // its version and otherwise the arguments it was given.
    const tree = join(scratch, "launcher");
    mkdirSync(join(tree, "bin"), { recursive: true });
    mkdirSync(join(tree, "dist"), { recursive: true });
    mkdirSync(join(tree, "node_modules", ".bin"), { recursive: true });
    mkdirSync(join(tree, "path"), { recursive: true });
    copyFileSync(join(ROOT, "bin", "homefleet"), join(tree, "bin", "homefleet"));
    chmodSync(join(tree, "bin", "homefleet"), 0o755);
    symlinkSync(join("..", "..", "bin", "homefleet"), join(tree, "node_modules", ".bin", "homefleet"));
    writeFileSync(join(tree, "path", "node"), '#!/bin/sh\nif [ "$1" = --version ]; then echo v99.1.2; exit 0; fi\nprintf "%s\\n" "$@"\n', { mode: 0o755 });
    const launch = (env: Record<string, string>, ...args: string[]) => {
      const run = spawnSync(join(tree, "node_modules", ".bin", "homefleet"), args, { cwd: tree, encoding: "utf8", env: { PATH: `${join(tree, "path")}:/usr/bin:/bin`, ...env } });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: "" });
      return run.stdout.trimEnd().split("\n");
    };
    const script = join(tree, "bin", "homefleet.js");
    // No snapshot for this node's version: a plain start.
    writeFileSync(join(tree, "dist", "homefleet-cli.snapshot-v20.0.0.blob"), "");
    expect(launch({}, "render", "--out", "a b")).toEqual([script, "render", "--out", "a b"]);
    const own = join(tree, "dist", "homefleet-cli.snapshot-v99.1.2.blob");
    writeFileSync(own, "");
    // A snapshot of this version without a stamp, or made by another executable: a plain start.
    expect(launch({}, "render")).toEqual([script, "render"]);
    writeFileSync(`${own}.node`, "/opt/other/bin/node\n--no-rehash-snapshot\n");
    expect(launch({}, "render")).toEqual([script, "render"]);
    // Made by this very node (its real path: PATH may hold a symlink to it), started under the
    // flags its stamp records, one argument each, none expanded as a file name.
    writeFileSync(`${own}.node`, `${join(tree, "path", "node")}\n--no-rehash-snapshot --max-lazy\n`);
    expect(launch({}, "render", "--out", "a b")).toEqual(["--no-rehash-snapshot", "--max-lazy", "--snapshot-blob", own, script, "render", "--out", "a b"]);
    writeFileSync(join(tree, "--stack-size=1"), ""); // what the flag would match as a pattern, in the launcher's working directory
    writeFileSync(`${own}.node`, `${join(tree, "path", "node")}\n--stack-size=*\n`);
    expect(launch({}, "render")).toEqual(["--stack-size=*", "--snapshot-blob", own, script, "render"]);
    // Built under no flags.
    writeFileSync(`${own}.node`, `${join(tree, "path", "node")}\n\n`);
    expect(launch({}, "render")).toEqual(["--snapshot-blob", own, script, "render"]);
    // A stamp of an older build, which does not say the flags: the snapshot may need some, so a plain start.
    writeFileSync(`${own}.node`, `${join(tree, "path", "node")}\n`);
    expect(launch({}, "render")).toEqual([script, "render"]);
    writeFileSync(`${own}.node`, `${join(tree, "path", "node")}\n--no-rehash-snapshot\n`);
    mkdirSync(join(tree, "linked"));
    symlinkSync(join(tree, "path", "node"), join(tree, "linked", "node"));
    expect(launch({ PATH: `${join(tree, "linked")}:/usr/bin:/bin` }, "render")).toEqual(["--no-rehash-snapshot", "--snapshot-blob", own, script, "render"]);
    expect(launch({ NODE_OPTIONS: "--max-old-space-size=4096" }, "render")).toEqual([script, "render"]);
  });

  it("passes shellcheck", () => {
    expect(shellcheckFile(join(ROOT, "bin", "homefleet"))).toEqual({ status: 0, stdout: "", stderr: "" });
  });
});
