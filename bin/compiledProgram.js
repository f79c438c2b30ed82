// Whether the program compiled into dist/ (tsc, run by `npm ci` and `npm run build`) is up to date
// with its TypeScript sources, for bin/pulumi-program.js.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

function readTsconfig(root) {
  return JSON.parse(fs.readFileSync(path.join(root, "tsconfig.json"), "utf8"));
}

/** Every TypeScript source tsconfig.json names (its `include`, less its `exclude`), relative to `root`. */
function compiledSources(root, tsconfig = readTsconfig(root)) {
  const excluded = new Set(tsconfig.exclude ?? []);
  const sources = [];
  const visit = (rel) => {
    if (excluded.has(rel)) return;
    if (fs.statSync(path.join(root, rel)).isDirectory()) {
      for (const name of fs.readdirSync(path.join(root, rel))) visit(path.join(rel, name));
    } else if (rel.endsWith(".ts") && !rel.endsWith(".d.ts")) {
      sources.push(rel);
    }
  };
  for (const rel of tsconfig.include) visit(rel);
  return sources;
}

/**
 * True if every source has its compiled file in the output directory, written no earlier than the
 * source; false if any has none or an older one, or the sources cannot be listed.
 */
function compiledIsFresh(root) {
  try {
    const tsconfig = readTsconfig(root);
    const outDir = path.join(root, tsconfig.compilerOptions.outDir);
    return compiledSources(root, tsconfig).every((rel) => fs.statSync(path.join(outDir, rel.replace(/\.ts$/, ".js"))).mtimeMs >= fs.statSync(path.join(root, rel)).mtimeMs);
  } catch {
    return false;
  }
}

module.exports = { compiledIsFresh, compiledSources };
