// The CLI started from a V8 startup snapshot, for bin/homefleet (the command users run).
//
// Even from its bundle with V8's code cache (bin/cliBundle.js), a start still runs the bundle's
// module code, which builds the stack file schema (about a thousand zod objects) and the rest of the
// CLI's tables: a few tens of ms of every command. Node.js can instead start from a snapshot of a
// heap in which all that has already run (`node --build-snapshot`; `v8.startupSnapshot`): the build
// (bin/build-cli-bundle.js) runs the bundle in a snapshot builder, renders the committed stacks
// there so that the functions a render needs are compiled, and saves the heap as
// dist/homefleet-cli.snapshot-<node version>.blob, with the path of that node in <blob>.node.
// bin/homefleet starts `node --snapshot-blob` with it when the node on PATH is that version and that
// executable, and NODE_OPTIONS is empty (node refuses a snapshot made by another version, and V8 one
// made by another build or under other V8 flags), under the flags it was built with (SNAPSHOT_FLAGS).
//
// The snapshot holds the bundle as it was built, and state that the warm-up renders left in
// memo tables (pure functions of their keys) and in the package root homefleet found. So the
// snapshot's main function runs the CLI from it only while it is the launcher's own snapshot:
// started for the bin/homefleet.js it was built beside (the project was not moved), with the
// bundle it holds still on disk (same build id) and still fresh. Otherwise it runs
// bin/homefleet.js as a plain start would.
//
// This file runs in two places: required by the build, and inside the snapshot builder, where
// `require` loads only Node.js's own modules.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const DIST = path.join(root, "dist");
/** The snapshot for the node of version `version` (`process.version`, as `node --version` prints it). */
function snapshotBlob(version) {
  return path.join(DIST, `homefleet-cli.snapshot-${version}.blob`);
}
/**
 * A snapshot, or its stamp (`<blob>.node`: the real path of the node that built it on its first
 * line, the V8 flags it was built under on its second).
 */
const BLOB_PATTERN = /^homefleet-cli\.snapshot-.*\.blob(\.node)?$/;

/**
 * The V8 flags the snapshot is built under, and so started with (V8 refuses a snapshot under other
 * flags, and node then exits with status 14: bin/homefleet passes what the stamp records, never
 * a constant of its own, so a launcher newer than the snapshot cannot meet that).
 *
 * --no-rehash-snapshot: by default V8 gives every process a new string hash seed and rehashes every
 * string and hash table of the snapshot's heap with it as it starts, about 6 ms of the CLI's ~9 MB
 * heap on a start of ~60 ms. Without it the process keeps the seed chosen when the snapshot was
 * built. A per-process seed guards a long-running server against input crafted to collide in its
 * hash tables; the CLI hashes only its own user's stack file, for the second or so it runs.
 *
 * --interrupt-budget at four times V8's default (67584): V8 optimizes a function once it has run
 * that much bytecode, compiling on another thread. Its default suits long-running processes; the
 * CLI runs for a second at most, and on two CPUs the compiles it sets off compete with the garbage
 * collector's and the render's helper threads for the second one. Paired over 20 rounds against
 * the default (docs/benchmarks.md, fourteenth pass): 200 hosts into a new directory -50 ms, nothing
 * changed -23 ms, every host changed -15 ms, the small stack unchanged; twice the default gained
 * less, six and eight times lost again.
 */
const SNAPSHOT_FLAGS = ["--no-rehash-snapshot", "--interrupt-budget=270336"];

/**
 * Whether the snapshot's CLI is the one to run: the pure decision, given what the start found.
 * `script` is the launcher node was asked to run (bin/homefleet passes its bin/homefleet.js), the
 * rest what the snapshot was built for and what is on disk now.
 */
function snapshotApplies({ script, builtFor, builtId, idOnDisk, bundleFresh }) {
  return script === builtFor && builtId !== undefined && idOnDisk === builtId && bundleFresh;
}

/**
 * Inside the snapshot builder: renders the committed stacks (so that what a render runs is
 * compiled into the snapshot), then sets the function a start from the snapshot runs.
 * `cli` is the bundle's exports, `launch` bin/cliBundle.js's, `builtId` the bundle's build id.
 */
async function prepareSnapshot(cli, launch, builtId) {
  const builtFor = fs.realpathSync(path.join(__dirname, "homefleet.js"));
  await launch.warmUp(cli, 2);
  require("node:v8").startupSnapshot.setDeserializeMainFunction(() => {
    // As node resolves the script of a plain start; a start from a snapshot leaves it as given.
    const script = process.argv[1] === undefined ? undefined : path.resolve(process.argv[1]);
    const applies = snapshotApplies({
      script,
      builtFor,
      builtId,
      idOnDisk: launch.bundleIdOnDisk(),
      bundleFresh: launch.bundleIsFresh(),
    });
    if (applies) {
      launch.runCli(cli, builtId);
    } else if (script) {
      // Run the launcher it was asked for, as `node <script>` would.
      require("node:module").createRequire(script)(script);
    } else {
      process.stderr.write("homefleet: this snapshot is started by bin/homefleet, with the path of bin/homefleet.js\n");
      process.exit(2);
    }
  });
}

module.exports = { BLOB_PATTERN, DIST, SNAPSHOT_FLAGS, prepareSnapshot, snapshotApplies, snapshotBlob };
