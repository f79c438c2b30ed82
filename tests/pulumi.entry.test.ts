/**
 * bin/pulumi-program.js runs the compiled program only while dist/ is up to date with every
 * TypeScript source tsconfig.json names (bin/compiledProgram.js); otherwise the sources.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { compiledIsFresh, compiledSources } = require("../bin/compiledProgram.js") as { compiledIsFresh(root: string): boolean; compiledSources(root: string): string[] };

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { NOT_RECORDED } = require("../bin/promiseStackTraces.js") as { NOT_RECORDED: string };

const ROOT = join(__dirname, "..");
let root: string;

function file(rel: string, secondsAgo: number): void {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, "");
  const when = Date.now() / 1000 - secondsAgo;
  utimesSync(path, when, when);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "hf-entry-"));
  writeFileSync(join(root, "tsconfig.json"), JSON.stringify({ compilerOptions: { outDir: "out" }, include: ["index.ts", "lib", "tests/support/x.ts"], exclude: ["node_modules", "lib/skipped"] }));
  file("index.ts", 100);
  file("lib/a.ts", 100);
  file("lib/deep/b.ts", 100);
  file("lib/types.d.ts", 100);
  file("lib/skipped/c.ts", 0);
  file("tests/support/x.ts", 100);
  file("tests/other.ts", 0);
  for (const rel of ["index", "lib/a", "lib/deep/b", "tests/support/x"]) file(`out/${rel}.js`, 50);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

it("lists the sources tsconfig.json names: included files and directories, less excluded ones and declarations", () => {
  expect(compiledSources(root).sort()).toEqual(["index.ts", "lib/a.ts", "lib/deep/b.ts", "tests/support/x.ts"]);
});

it("is fresh when every source's compiled file is as new or newer", () => {
  expect(compiledIsFresh(root)).toBe(true);
  file("lib/skipped/c.ts", -10);
  file("tests/other.ts", -10);
  expect(compiledIsFresh(root)).toBe(true);
});

it("is stale when a source is newer than its compiled file, or has none", () => {
  file("lib/deep/b.ts", 10);
  expect(compiledIsFresh(root)).toBe(false);
  file("lib/deep/b.ts", 100);
  expect(compiledIsFresh(root)).toBe(true);
  file("lib/new.ts", 100);
  expect(compiledIsFresh(root)).toBe(false);
});

it("is stale when tsconfig.json cannot be read", () => {
  rmSync(join(root, "tsconfig.json"));
  expect(compiledIsFresh(root)).toBe(false);
});

it("lists this checkout's program sources: its entry, and of the tests only the support files tsc compiles", () => {
  expect(compiledSources(ROOT)).toEqual(expect.arrayContaining(["index.ts", "program.ts", join("hosts", "HostDeployment.ts")]));
  expect(compiledSources(ROOT).some((rel) => rel.startsWith("tests/") && !rel.startsWith("tests/support/"))).toBe(false);
});

it("leaves the SDK's promise stacks unwritten by the time the program loads (bin/promiseStackTraces.js)", () => {
  // As Pulumi's runner: source-map-support first, then the entry, whose program is not run here.
  // What the entry loads is answered with an empty module, after noting how a stack taken in the
  // SDK's debuggablePromise is written at that moment.
  const script = `
    require(require.resolve("source-map-support/register", { paths: [require.resolve("@pulumi/pulumi")] }));
    const Module = require("node:module");
    const load = Module._load;
    Module._load = function (request, parent, isMain) {
      if (/(dist\\/index\\.js|index\\.ts)$/.test(request)) {
        const site = { getFunctionName: () => "debuggablePromise", toString: () => "debuggablePromise (sdk.js:1:1)" };
        process.stdout.write(JSON.stringify({ program: request, stack: Error.prepareStackTrace(new Error("x"), [site]) }));
        return {};
      }
      return load.apply(this, arguments);
    };
    require(${JSON.stringify(join(ROOT, "bin", "pulumi-program.js"))});
  `;
  const { PULUMI_DEBUG_PROMISE_LEAKS: _unset, ...env } = process.env;
  const run = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", env });
  expect(run.stderr).toBe("");
  const seen = JSON.parse(run.stdout) as { program: string; stack: string };
  expect(seen.stack).toBe(NOT_RECORDED);
});
