// Builds dist/providers/NAME.js: each dynamic provider's code as one self-contained CommonJS
// module (why: hosts/bundledProvider.ts), and dist/providers/NAME.json, the sources it was built
// from. Run after tsc: `npm run build` and `npm ci` (prepare) do.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const esbuild = require("esbuild");

const root = path.join(__dirname, "..");

/** The providers bundled: the name each module exports its provider under, and that module. */
const PROVIDERS = [
  { name: "hostDeploymentProvider", entry: "deploy/hostDeploymentProvider.ts" },
  { name: "hostPackagesProvider", entry: "deploy/hostPackagesProvider.ts" },
];

/** Resolved at run time in the engine's provider process, from the project's node_modules, as the serialized closures of the SDK resolve them. */
const EXTERNAL = ["ssh2", "@grpc/grpc-js", "@pulumi/pulumi", "@pulumi/pulumi/*"];

/**
 * A host script's module (render/scripts/NAME.ts) reads its .sh file from the source tree when it
 * loads, which a bundle run from the state cannot do: the bundle carries the module's exports as
 * they are now, taken from the compiled module (tsc ran first). Exports that are not plain data
 * stop the build.
 */
const hostScriptsAsData = {
  name: "host-scripts-as-data",
  setup(b) {
    b.onLoad({ filter: /[\\/]render[\\/]scripts[\\/][^\\/]+\.ts$/ }, (args) => {
      const relative = path.relative(root, args.path).replace(/\.ts$/, ".js");
      const compiled = require(path.join(root, "dist", relative));
      const data = JSON.parse(JSON.stringify(compiled));
      if (!require("node:util").isDeepStrictEqual(data, { ...compiled })) throw new Error(`${relative}: its exports are not plain data, so a provider bundle cannot carry them`);
      return { contents: `module.exports = ${JSON.stringify(data)};`, loader: "js" };
    });
  },
};

function writeAtomically(file, content) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}

/** Bundles every provider into OUT_DIR (dist/providers unless given); returns the files written. */
async function buildProviderBundles(outDir = path.join(root, "dist", "providers")) {
  fs.mkdirSync(outDir, { recursive: true });
  const scripts = fs
    .readdirSync(path.join(root, "render", "scripts"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".sh"))
    .sort()
    .map((f) => `render/scripts/${f}`);
  const written = [];
  for (const { name, entry } of PROVIDERS) {
    const code = path.join(outDir, `${name}.js`);
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile: code,
      write: false,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      external: EXTERNAL,
      metafile: true,
      logLevel: "warning",
      plugins: [hostScriptsAsData],
      // Readable, as the closures the SDK would serialize are: an error's stack in the engine's
      // log points into this text.
      legalComments: "none",
    });
    const text = result.outputFiles[0].text;
    // The engine's provider process runs the text from a string, not from a file.
    const fileBound = /\b(__dirname|__filename|import\.meta)\b/.exec(text);
    if (fileBound) throw new Error(`${entry}: the bundle refers to ${fileBound[0]}, which a provider run from the state does not have`);
    const inputs = Object.keys(result.metafile.inputs).filter((f) => !/(^|\/)node_modules\//.test(f));
    // Stamp first, code last: a code file newer than its stamp's sources is complete.
    writeAtomically(path.join(outDir, `${name}.json`), JSON.stringify({ inputs: [...inputs, ...scripts, "bin/build-provider-bundles.js"] }, null, 1) + "\n");
    writeAtomically(code, text);
    written.push(code);
  }
  return written;
}

module.exports = { PROVIDERS, buildProviderBundles };

if (require.main === module) {
  buildProviderBundles().catch((err) => {
    process.stderr.write(`build-provider-bundles: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
}
