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
// package-lock.json): after a plain `tsc`, bin/homefleet.js runs dist/cli/main.js as before.
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
 * Runs the bundle as Node runs a CommonJS module, compiled with `cachedData` when given.
 * Returns its exports and the compiled script (the build asks it for the code cache).
 */
function runBundle(cachedData) {
  const source = fs.readFileSync(BUNDLE, "utf8");
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: BUNDLE, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, path.dirname(BUNDLE));
  return { exports: module.exports, script };
}

/**
 * The code cache, if it was written after the bundle. V8 checks a cache against the length of
 * the source only, so a cache of another bundle of the same length must never be offered.
 */
function codeCache() {
  try {
    if (fs.statSync(CODE_CACHE).mtimeMs < fs.statSync(BUNDLE).mtimeMs) return undefined;
    return fs.readFileSync(CODE_CACHE);
  } catch {
    return undefined;
  }
}

/** The CLI module (`main`) from the bundle, or undefined where there is no fresh bundle. */
function bundledCli() {
  if (!bundleIsFresh()) return undefined;
  return runBundle(codeCache()).exports;
}

module.exports = { BUNDLE, CODE_CACHE, INPUTS, bundleIsFresh, bundledCli, runBundle };
