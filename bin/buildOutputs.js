// What the build scripts (bin/build-cli-bundle.js, bin/build-provider-bundles.js) share.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");

/** Writes a file whole or not at all: a process starting meanwhile reads the old file or the new one. */
function writeAtomically(file, content) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

/**
 * Every host script and fragment (render/scripts/**.sh), relative to the root, sorted: modules read
 * them when they load, so whatever holds those modules' state (a startup snapshot, a provider
 * bundle) depends on them.
 */
function hostScriptFiles() {
  return fs
    .readdirSync(path.join(root, "render", "scripts"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".sh"))
    .sort()
    .map((f) => `render/scripts/${f}`);
}

module.exports = { hostScriptFiles, writeAtomically };
