// `npx homefleet` in a fresh checkout must run this project's CLI. npm links only the bins of
// dependencies into node_modules/.bin, and npm 11's npx, given a package.json `bin` of the
// project itself, tries to install the project into its cache and fails ("Could not read
// package.json: ... _npx/<hash>/package.json"). So package.json declares no `bin`; the prepare
// script (run by `npm ci`) links the launcher here, where npx looks first.
const fs = require("node:fs");
const path = require("node:path");

const binDir = path.join(__dirname, "..", "node_modules", ".bin");
const link = path.join(binDir, "homefleet");
fs.mkdirSync(binDir, { recursive: true });
fs.rmSync(link, { force: true });
fs.symlinkSync(path.join("..", "..", "bin", "homefleet.js"), link);
