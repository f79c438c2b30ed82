// Builds dist/homefleet-cli.js from the compiled CLI and V8's code cache for it (why: see
// bin/cliBundle.js). Run after tsc: `npm run build` and `npm ci` (prepare) do.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const esbuild = require("esbuild");
const { BUNDLE, CODE_CACHE, INPUTS, buildIdOf, runBundle } = require("./cliBundle.js");

const root = path.join(__dirname, "..");

/** Writes a file whole or not at all: a CLI starting meanwhile reads the old file or the new one. */
function writeAtomically(file, content) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

async function build() {
  // A cache must never outlive the bundle it was made for.
  fs.rmSync(CODE_CACHE, { force: true });
  const result = esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: ["dist/cli/main.js"],
    outfile: BUNDLE,
    write: false,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Only the Pulumi program loads these; the CLI never reaches them.
    external: ["@pulumi/*", "ssh2"],
    metafile: true,
    logLevel: "warning",
  });
  // The build id ties the code cache to this bundle (bin/cliBundle.js checks it).
  const id = crypto.randomBytes(8).toString("hex");
  const bundle = result.outputFiles.find((f) => f.path === BUNDLE);
  writeAtomically(BUNDLE, `${bundle.text}\n// homefleet-cli-build: ${id}\n`);
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith("node_modules/"));
  writeAtomically(INPUTS, JSON.stringify([...inputs, "package-lock.json"], null, 1) + "\n");

  // The cache holds what V8 compiled while the bundle ran: render both committed stacks (and
  // review one) so that the functions a render needs are in it. Their outcome does not matter
  // here: a stack file that does not validate only leaves fewer functions compiled.
  const { exports: cli, script, source } = runBundle(() => undefined);
  // Another build replaced the bundle meanwhile: it writes the cache for its own.
  if (buildIdOf(source) !== id) return;
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
  writeAtomically(CODE_CACHE, Buffer.concat([Buffer.from(`${id}\n`), script.createCachedData()]));
}

build().catch((err) => {
  process.stderr.write(`build-cli-bundle: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
