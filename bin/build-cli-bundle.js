// Builds dist/homefleet-cli.js from the compiled CLI and V8's code cache for it (why: see
// bin/cliBundle.js). Run after tsc: `npm run build` and `npm ci` (prepare) do.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const esbuild = require("esbuild");
const { BUNDLE, CODE_CACHE, INPUTS, runBundle } = require("./cliBundle.js");

const root = path.join(__dirname, "..");

async function build() {
  // A cache must never outlive the bundle it was made for.
  fs.rmSync(CODE_CACHE, { force: true });
  const result = esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: ["dist/cli/main.js"],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Only the Pulumi program loads these; the CLI never reaches them.
    external: ["@pulumi/*", "ssh2"],
    metafile: true,
    logLevel: "warning",
  });
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith("node_modules/"));
  fs.writeFileSync(INPUTS, JSON.stringify([...inputs, "package-lock.json"], null, 1) + "\n");

  // The cache holds what V8 compiled while the bundle ran: render both committed stacks (and
  // review one) so that the functions a render needs are in it. Their outcome does not matter
  // here: a stack file that does not validate only leaves fewer functions compiled.
  const { exports: cli, script } = runBundle(undefined);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "homefleet-bundle-"));
  const quiet = { write: () => true };
  try {
    for (const stack of ["staging", "prod"]) {
      await cli.main(["node", "homefleet", "render", "--stack", stack, "--out", path.join(tmp, stack)], { out: quiet, err: quiet, cwd: root });
    }
    await cli.main(["node", "homefleet", "review", "--stack", "staging", "--no-exposure", "--out", path.join(tmp, "review.md")], { out: quiet, err: quiet, cwd: root });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.writeFileSync(CODE_CACHE, script.createCachedData());
}

build().catch((err) => {
  process.stderr.write(`build-cli-bundle: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
