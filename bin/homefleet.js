#!/usr/bin/env node
// Thin launcher: the CLI is compiled by `npm ci` (prepare script) into dist/.
require("../dist/cli/main.js").main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`homefleet: ${err && err.message ? err.message : err}\n`);
    process.exit(2);
  },
);
