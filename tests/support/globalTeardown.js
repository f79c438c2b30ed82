// jest globalTeardown: removes the run's validator results (globalSetup.js).
const fs = require("node:fs");

module.exports = () => {
  const dir = process.env.HOMEFLEET_TEST_TOOL_CACHE;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
};
