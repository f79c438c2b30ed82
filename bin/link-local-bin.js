// `npx homefleet` in a fresh checkout must run this project's CLI. npm links only the bins of
// dependencies into node_modules/.bin, and npm 11's npx, given a package.json `bin` of the
// project itself, tries to install the project into its cache and fails ("Could not read
// package.json: ... _npx/<hash>/package.json"). So package.json declares no `bin`; the prepare
// script (run by `npm ci`) links the launcher here, where npx looks first: bin/homefleet, which
// starts the CLI from its startup snapshot, or bin/homefleet.js itself where there is no sh.
const fs = require("node:fs");
const path = require("node:path");

const binDir = path.join(__dirname, "..", "node_modules", ".bin");
const link = path.join(binDir, "homefleet");
fs.mkdirSync(binDir, { recursive: true });
fs.rmSync(link, { force: true });
fs.symlinkSync(path.join("..", "..", "bin", process.platform === "win32" ? "homefleet.js" : "homefleet"), link);
