/** End-to-end tests against real hosts (systemd-nspawn containers): `npm run test:e2e`. */
/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests-e2e"],
  testMatch: ["**/*.e2e.test.ts"],
  testTimeout: 600000,
  maxWorkers: 1,
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: { types: ["node", "jest"], esModuleInterop: true, strict: true } }] },
};
