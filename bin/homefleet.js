#!/usr/bin/env node
// Thin launcher: the CLI is compiled by `npm ci` (prepare script) into dist/, and bundled into
// one file with its V8 code cache where that bundle is up to date (bin/cliBundle.js says why).
// bin/homefleet, the command users run, starts this file from a startup snapshot where it can
// (bin/cliSnapshot.js).
const launch = require("./cliBundle.js");
const bundled = launch.bundledCli();
if (bundled) launch.runCli(bundled.cli, bundled.buildId);
else launch.runCli(require("../dist/cli/main.js"));
