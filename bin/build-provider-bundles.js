// Builds, for each of homefleet's dynamic providers, dist/providers/NAME.serialized.js: the
// provider as the SDK serializes it into the state (why: hosts/prebuiltProvider.ts); for the host
// providers, from dist/providers/NAME.js, their code as one self-contained CommonJS module; and
// dist/providers/NAME.json, the sources all that was built from. Run after tsc: `npm run build`
// and `npm ci` (prepare) do.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const zlib = require("node:zlib");
const esbuild = require("esbuild");
const { hostScriptFiles, writeAtomically } = require("./buildOutputs.js");

const root = path.join(__dirname, "..");

/** The providers bundled: the name each module exports its provider under, and that module. */
const BUNDLED = [
  { name: "hostDeploymentProvider", entry: "deploy/hostDeploymentProvider.ts" },
  { name: "hostPackagesProvider", entry: "deploy/hostPackagesProvider.ts" },
];

/** Providers serialized as the closures they are: self-contained functions of one source file. */
const CLOSURES = [{ name: "generatedSecretProvider", entry: "components/GeneratedSecret.ts" }];

/** Every prebuilt file depends on these too: the SDK that serializes (its version), this script and the shim it serializes. */
const ALWAYS = ["package-lock.json", "bin/build-provider-bundles.js", "hosts/prebuiltProvider.ts"];

function compiled(entry) {
  return require(path.join(root, "dist", entry.replace(/\.ts$/, ".js")));
}

/** PROVIDER as pulumi.dynamic.Resource would serialize it; one that captures a secret stops the build (its text lands in a file). */
async function serializedText(name, provider) {
  const pulumi = require("@pulumi/pulumi");
  const { text, containsSecrets } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  if (containsSecrets) throw new Error(`${name}: the provider captures a secret, so it cannot be serialized at build time`);
  return text;
}

/** Resolved at run time in the engine's provider process, from the project's node_modules, as the serialized closures of the SDK resolve them. */
const EXTERNAL = ["ssh2", "@grpc/grpc-js", "@pulumi/pulumi", "@pulumi/pulumi/*"];

/**
 * A host script's module (render/scripts/NAME.ts) reads its .sh file from the source tree when it
 * loads, which a bundle run from the state cannot do: the bundle carries the module's exports as
 * they are now, taken from the compiled module (tsc ran first). Exports that are not plain data
 * stop the build.
 *
 * They are carried gzipped, as base64: every host deployment keeps its provider's text in the
 * state twice (inputs and outputs), and the file backend writes the whole state after every step
 * of an update. homefleet-activate alone is 48 KB as text, 19 KB so.
 */
const hostScriptsAsData = {
  name: "host-scripts-as-data",
  setup(b) {
    b.onLoad({ filter: /[\\/]render[\\/]scripts[\\/][^\\/]+\.ts$/ }, (args) => {
      const relative = path.relative(root, args.path).replace(/\.ts$/, ".js");
      const compiled = require(path.join(root, "dist", relative));
      const data = JSON.parse(JSON.stringify(compiled));
      if (!require("node:util").isDeepStrictEqual(data, { ...compiled })) throw new Error(`${relative}: its exports are not plain data, so a provider bundle cannot carry them`);
      const packed = zlib.gzipSync(JSON.stringify(data), { level: 9 }).toString("base64");
      return { contents: `module.exports = JSON.parse(require("node:zlib").gunzipSync(Buffer.from(${JSON.stringify(packed)}, "base64")).toString("utf8"));`, loader: "js" };
    });
  },
};

/** Builds every provider into OUT_DIR (dist/providers unless given); returns their names. */
async function buildProviderBundles(outDir = path.join(root, "dist", "providers")) {
  fs.mkdirSync(outDir, { recursive: true });
  const scripts = hostScriptFiles();
  const { providerFromBundle } = compiled("hosts/prebuiltProvider.ts");
  const written = [];
  const write = (name, inputs, serialized, bundle) => {
    // Stamp first, outputs last: an output newer than its stamp's sources is complete.
    writeAtomically(path.join(outDir, `${name}.json`), JSON.stringify({ inputs: [...inputs, ...ALWAYS] }, null, 1) + "\n");
    if (bundle !== undefined) writeAtomically(path.join(outDir, `${name}.js`), bundle);
    writeAtomically(path.join(outDir, `${name}.serialized.js`), serialized);
    written.push(name);
  };
  for (const { name, entry } of BUNDLED) {
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile: path.join(outDir, `${name}.js`),
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
    const bundle = result.outputFiles[0].text;
    // The engine's provider process runs the text from a string, not from a file.
    const fileBound = /\b(__dirname|__filename|import\.meta)\b/.exec(bundle);
    if (fileBound) throw new Error(`${entry}: the bundle refers to ${fileBound[0]}, which a provider run from the state does not have`);
    const inputs = Object.keys(result.metafile.inputs).filter((f) => !/(^|\/)node_modules\//.test(f));
    const methods = Object.keys(compiled(entry)[name]);
    write(name, [...inputs, ...scripts], await serializedText(name, providerFromBundle(bundle, name, methods)), bundle);
  }
  for (const { name, entry } of CLOSURES) write(name, [entry], await serializedText(name, compiled(entry)[name]));
  return written;
}

module.exports = { BUNDLED, CLOSURES, buildProviderBundles };

if (require.main === module) {
  buildProviderBundles().catch((err) => {
    process.stderr.write(`build-provider-bundles: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
}
