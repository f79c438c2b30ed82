// Builds dist/homefleet-cli.js from the compiled CLI and V8's code cache for it (why: see
// bin/cliBundle.js). Run after tsc: `npm run build` and `npm ci` (prepare) do.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const esbuild = require("esbuild");
const { spawnSync } = require("node:child_process");
const { BUNDLE, CODE_CACHE, INPUTS, buildIdOf, bundleIdOnDisk, runBundle, warmUp } = require("./cliBundle.js");
const { BLOB_PATTERN, DIST, SNAPSHOT_FLAGS, snapshotBlob } = require("./cliSnapshot.js");
const { hostScriptFiles, writeAtomically } = require("./buildOutputs.js");

const root = path.join(__dirname, "..");

/**
 * zod's translations of its messages into ~45 languages (zod/v4/locales/index.cjs): zod core and
 * zod classic require them all at load, homefleet never switches language (English, the default,
 * is required on its own and stays), and they were 484 KiB of the 1.68 MB bundle that every start
 * reads and deserializes. Only this one require, from those two zod directories, is replaced.
 */
const zodLocalesStub = {
  name: "zod-locales-stub",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.cjs$/ }, (args) => (/[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir) ? { path: "zod-locales", namespace: "zod-locales-stub" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "zod-locales-stub" }, () => ({ contents: "module.exports = {};", loader: "js" }));
  },
};

/**
 * commander requires node:child_process at load, for subcommands that are separate executables,
 * which homefleet has none of; loading it (with net, dgram and their streams) was a few ms of
 * every start. Its one use, `childProcess.spawn`, now loads the real module when called.
 */
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) => (/[\\/]commander[\\/]lib[\\/]command\.js$/.test(args.importer) ? { path: "child-process", namespace: "lazy-child-process" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "lazy-child-process" }, () => ({ contents: 'module.exports = { spawn: (...args) => require("node:child_process").spawn(...args) };', loader: "js" }));
  },
};

/** Removes every startup snapshot and its stamp: none may outlive the bundle it holds. */
function removeSnapshots() {
  for (const name of fs.readdirSync(DIST)) if (BLOB_PATTERN.test(name)) fs.rmSync(path.join(DIST, name), { force: true });
}

/**
 * The snapshot builder's entry: one script (it can require only Node.js's own modules) that runs
 * the bundle, bin/cliBundle.js and bin/cliSnapshot.js as modules of their own files, then
 * prepares the snapshot (bin/cliSnapshot.js).
 */
function snapshotEntry(bundleSource, id) {
  const moduleOf = (file, source) =>
    `load(${JSON.stringify(file)}, function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const here = (name) => path.join(__dirname, name);
  return [
    '"use strict";',
    "// Written by bin/build-cli-bundle.js for `node --build-snapshot`, and removed after.",
    "function load(file, wrapper) {",
    "  const module = { exports: {} };",
    '  wrapper(module.exports, require, module, file, require("node:path").dirname(file));',
    "  return module.exports;",
    "}",
    `const cli = ${moduleOf(BUNDLE, bundleSource)};`,
    `const launch = ${moduleOf(here("cliBundle.js"), fs.readFileSync(here("cliBundle.js"), "utf8"))};`,
    `const snapshot = ${moduleOf(here("cliSnapshot.js"), fs.readFileSync(here("cliSnapshot.js"), "utf8"))};`,
    `snapshot.prepareSnapshot(cli, launch, ${JSON.stringify(id)}).catch((err) => {`,
    "  process.stderr.write(`${err && err.stack ? err.stack : err}\\n`);",
    "  process.exit(1);",
    "});",
    "",
  ].join("\n");
}

/**
 * Builds dist/homefleet-cli.snapshot-<node version>.blob for this node. A node that cannot build
 * one leaves the CLI without it: bin/homefleet then starts bin/homefleet.js, only more slowly.
 */
function buildSnapshot(bundleSource, id) {
  const target = snapshotBlob(process.version);
  // Built beside its place and renamed into it: a CLI starting meanwhile finds the whole snapshot or none.
  const blob = `${target}.${process.pid}.tmp`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "homefleet-snapshot-build-"));
  try {
    const entry = path.join(tmp, "entry.js");
    fs.writeFileSync(entry, snapshotEntry(bundleSource, id));
    const run = spawnSync(process.execPath, [...SNAPSHOT_FLAGS, "--snapshot-blob", blob, "--build-snapshot", entry], { cwd: root, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
    if (run.status !== 0 || !fs.existsSync(blob)) {
      process.stderr.write(`build-cli-bundle: no startup snapshot for node ${process.version} (the CLI starts without one): node --build-snapshot exited ${run.status ?? run.signal}\n${run.stderr}`);
      return;
    }
    // The stamp names the node that built it (bin/homefleet compares it with the node on PATH:
    // another build of the same version may be refused by V8) and the flags to start it with.
    writeAtomically(`${target}.node`, `${fs.realpathSync(process.execPath)}\n${SNAPSHOT_FLAGS.join(" ")}\n`);
    fs.renameSync(blob, target);
  } finally {
    fs.rmSync(blob, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function build() {
  // A cache or snapshot must never outlive the bundle it was made for.
  fs.rmSync(CODE_CACHE, { force: true });
  fs.mkdirSync(DIST, { recursive: true });
  removeSnapshots();
  const result = await esbuild.build({
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
    plugins: [zodLocalesStub, lazyChildProcess],
    // Without comments and indentation the bundle is about half the size to read at each start;
    // names are kept (commander names its errors after their classes). esbuild escapes every
    // non-ASCII character in code, and comments are gone, so the file is ASCII: bin/cliBundle.js
    // reads it as latin1, which is the same text and several times faster to decode than UTF-8.
    minifyWhitespace: true,
    charset: "ascii",
    legalComments: "none",
  });
  // The build id ties the code cache to this bundle (bin/cliBundle.js checks it).
  const id = crypto.randomBytes(8).toString("hex");
  const bundle = result.outputFiles.find((f) => f.path === BUNDLE);
  const nonAscii = /[^\x00-\x7f]/.exec(bundle.text);
  if (nonAscii) throw new Error(`the bundle holds a non-ASCII character (U+${nonAscii[0].codePointAt(0).toString(16)}) at ${nonAscii.index}; bin/cliBundle.js reads it as latin1`);
  writeAtomically(BUNDLE, `${bundle.text}\n// homefleet-cli-build: ${id}\n`);
  // Dependencies are covered by package-lock.json (wherever node_modules resolves to: a linked
  // node_modules gives paths such as ../other/node_modules/...), the plugins' modules by this file.
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !/(^|\/)node_modules\//.test(f) && !/^[a-z-]+:/.test(f));
  // The CLI reads package.json (its version) and the host scripts when its modules load, so the
  // startup snapshot holds them as they were: they are inputs too.
  writeAtomically(INPUTS, JSON.stringify([...inputs, "package-lock.json", "package.json", ...hostScriptFiles()], null, 1) + "\n");

  // The cache holds what V8 compiled while the bundle ran: a warm-up (bin/cliBundle.js) runs the
  // functions a render needs.
  const { exports: cli, script, source } = runBundle(() => undefined);
  // Another build replaced the bundle meanwhile: it writes the cache for its own.
  if (buildIdOf(source) !== id) return;
  await warmUp(cli, 1);
  writeAtomically(CODE_CACHE, Buffer.concat([Buffer.from(`${id}\n`), script.createCachedData()]));
  // Another build replaced the bundle meanwhile: it builds the snapshot for its own.
  if (bundleIdOnDisk() !== id) return;
  buildSnapshot(source, id);
}

build().catch((err) => {
  process.stderr.write(`build-cli-bundle: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
