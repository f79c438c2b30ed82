/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 120000,
  // One worker per CPU (jest's default leaves one idle, which on 2 CPUs runs the suite serially).
  // The tests that start real servers take free ports and their own namespaces and directories.
  maxWorkers: "100%",
  // Types are checked by tsc (npm ci's prepare, npm run typecheck); ts-jest only transpiles.
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: { types: ["node", "jest"], esModuleInterop: true, strict: true, isolatedModules: true } }] },
};
