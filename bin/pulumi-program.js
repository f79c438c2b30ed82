// The Pulumi program's entry (Pulumi.yaml `main`).
//
// `npm ci` and `npm run build` compile the program into dist/ with tsc. Running that compiled
// program spares every preview, update, refresh and destroy the transpiling of ~110 TypeScript
// files: a preview of the staging stack took 8.2-8.6 s instead of 12.1-12.2 s (docs/benchmarks.md).
// Where a source is newer than its compiled file, or has none (the program was edited since the
// last build), the sources run through ts-node instead, as Pulumi's own `typescript` option runs them.
"use strict";
const path = require("node:path");
const { compiledIsFresh } = require("./compiledProgram.js");
const { skipUnreadPromiseStacks } = require("./promiseStackTraces.js");

const root = path.join(__dirname, "..");

if (compiledIsFresh(root)) {
  skipUnreadPromiseStacks();
  module.exports = require("../dist/index.js");
} else {
  // A language host that runs every program through ts-node has registered it already.
  if (!require.extensions[".ts"]) {
    require("ts-node").register({ project: path.join(root, "tsconfig.json"), transpileOnly: process.env.PULUMI_NODEJS_TRANSPILE_ONLY === "true" });
  }
  // After ts-node, which installs its own source-map-support hook.
  skipUnreadPromiseStacks();
  module.exports = require("../index.ts");
}
