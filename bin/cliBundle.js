// The CLI as one file with V8's compiled code beside it, for bin/homefleet.js.
//
// `homefleet render` loads about 200 modules (zod, yaml, commander and homefleet's own): finding,
// reading and compiling them one by one took longer than rendering a small stack. The build
// (bin/build-cli-bundle.js, run by `npm run build` and `npm ci`) bundles dist/cli/main.js into
// dist/homefleet-cli.js and stores V8's code cache of a few renders next to it, so a start reads
// two files and compiles almost nothing. The cache belongs to one Node.js build: another one
// rejects it and compiles the bundle instead, which is only slower.
//
// The bundle is used only while it is newer than every compiled file it was built from (and than
// package-lock.json, package.json and the host scripts, which its startup snapshot holds as they
// were: bin/cliSnapshot.js): after a plain `tsc`, bin/homefleet.js runs dist/cli/main.js as before.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { createRequire } = require("node:module");

const root = path.join(__dirname, "..");
const BUNDLE = path.join(root, "dist", "homefleet-cli.js");
const CODE_CACHE = `${BUNDLE}.v8cache`;
/** The files the bundle was built from, relative to the root: JSON, written by the build. */
const INPUTS = `${BUNDLE}.inputs.json`;

/** True if the bundle exists and no file it was built from changed since. */
function bundleIsFresh() {
  try {
    const built = fs.statSync(BUNDLE).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(INPUTS, "utf8"));
    return inputs.every((file) => fs.statSync(path.join(root, file)).mtimeMs <= built);
  } catch {
    return false;
  }
}

/**
 * Runs the bundle as Node runs a CommonJS module, compiled with the code cache `cacheFor`
 * returns for its source. Returns its exports, the compiled script (the build asks it for the
 * code cache) and the source.
 */
function runBundle(cacheFor) {
  // ASCII only (the build checks it): latin1 is the same text, decoded without UTF-8 validation.
  const source = fs.readFileSync(BUNDLE, "latin1");
  const cachedData = cacheFor(source);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: BUNDLE, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, path.dirname(BUNDLE));
  return { exports: module.exports, script, source };
}

/** The build id the bundle ends with (`// homefleet-cli-build: <id>`). */
function buildIdOf(source) {
  return /\/\/ homefleet-cli-build: ([0-9a-f]+)\n$/.exec(source.slice(-80))?.[1];
}

/**
 * The code cache made for this very bundle: its first line is the bundle's build id. V8 checks
 * a cache against the length of the source only, so a cache of another bundle must never be
 * offered.
 */
function codeCacheFor(source) {
  const id = buildIdOf(source);
  if (!id) return undefined;
  try {
    const file = fs.readFileSync(CODE_CACHE);
    const head = Buffer.from(`${id}\n`);
    return file.subarray(0, head.length).equals(head) ? file.subarray(head.length) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The CLI module (`main`) from the bundle with the bundle's build id, or undefined where there is
 * no fresh bundle or it cannot be run (say, a build is writing it right now): the caller then
 * loads dist/cli/main.js.
 */
function bundledCli() {
  if (!bundleIsFresh()) return undefined;
  try {
    const { exports: cli, source } = runBundle(codeCacheFor);
    const buildId = buildIdOf(source);
    return typeof cli.main === "function" && buildId ? { cli, buildId } : undefined;
  } catch {
    return undefined;
  }
}

/** The build id at the end of the bundle on disk now, reading only its last bytes. */
function bundleIdOnDisk() {
  let fd;
  try {
    fd = fs.openSync(BUNDLE, "r");
    const size = fs.fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(size, 80));
    fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    return buildIdOf(tail.toString("latin1"));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Runs what a user's renders run, so that V8 compiles it: `passes` renders of each committed stack
 * into the same directory (a later one goes over the earlier, as most renders do), then a review
 * of one. For the code cache and the startup snapshot. Their outcome does not matter: a stack
 * file that does not validate only leaves fewer functions compiled.
 */
async function warmUp(cli, passes) {
  const tmp = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "homefleet-warm-up-"));
  const quiet = { write: () => true };
  try {
    for (const stack of ["staging", "prod"]) {
      // With a build id, as the launcher runs it: render keys are computed too.
      for (let i = 0; i < passes; i++) await cli.main(["node", "homefleet", "render", "--stack", stack, "--out", path.join(tmp, stack)], { out: quiet, err: quiet, cwd: root }, { id: "warm-up" });
    }
    await cli.main(["node", "homefleet", "review", "--stack", "staging", "--no-exposure", "--out", path.join(tmp, "review.md")], { out: quiet, err: quiet, cwd: root });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Runs the CLI module's main on this process's arguments and exits with its status. `buildId` is
 * the bundle's when the CLI runs from it: every build gets a new one, and a bundle runs only while
 * nothing it was built from changed since, so the id names the code that renders (cli/main.ts).
 * The compiled modules of dist/ have none.
 */
function runCli(cli, buildId) {
  cli.main(process.argv, undefined, { id: buildId }).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`homefleet: ${err && err.message ? err.message : err}\n`);
      process.exit(2);
    },
  );
}

module.exports = { BUNDLE, CODE_CACHE, INPUTS, buildIdOf, bundleIdOnDisk, bundleIsFresh, bundledCli, runBundle, runCli, warmUp };
