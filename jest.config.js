const { availableParallelism } = require("node:os");

/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 120000,
  // A directory per run for validator results (tests/support/globalSetup.js).
  globalSetup: "<rootDir>/tests/support/globalSetup.js",
  globalTeardown: "<rootDir>/tests/support/globalTeardown.js",
  // Two workers per CPU. Several suites mostly wait: lego polls pebble every 5 s or more, PostgreSQL
  // and Alertmanager start, restic derives its key. With one worker per CPU a CPU sat idle through
  // those waits: on 2 CPUs the suite took 196 s with 2 workers, 158 s with 3 and 148 s with 4.
  // The tests that start real servers take free ports and their own namespaces and directories.
  // At most 8 (a worker holds up to ~900 MB). A number: jest reads "200%" as 200 workers.
  maxWorkers: Math.min(2 * availableParallelism(), 8),
  // Types are checked by tsc (npm ci's prepare, npm run typecheck); ts-jest only transpiles.
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: { types: ["node", "jest"], esModuleInterop: true, strict: true, isolatedModules: true } }] },
};
