// jest globalSetup: one directory per test run, in which tests/support/validators.ts keeps what a
// validator said of each distinct input (the suites shellcheck the same host scripts many times
// over: 78 calls for 13 distinct texts in three of them). Workers inherit the variable, and
// globalTeardown.js removes the directory, so every run checks every text at least once.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

module.exports = () => {
  process.env.HOMEFLEET_TEST_TOOL_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "homefleet-test-tools-"));
};
