#!/usr/bin/env node
// Thin launcher: the CLI is compiled by `npm ci` (prepare script) into dist/, and bundled into
// one file with its V8 code cache where that bundle is up to date (bin/cliBundle.js says why).
const cli = require("./cliBundle.js").bundledCli() ?? require("../dist/cli/main.js");
cli.main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`homefleet: ${err && err.message ? err.message : err}\n`);
    process.exit(2);
  },
);
