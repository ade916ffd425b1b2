// The one jest preset every package uses (`preset: '@predict/jest-config'`): swc transpiles TypeScript (type
// checking is `pnpm typecheck`), and workspace packages resolve to their sources so tests never run against a
// stale build: the `development` export condition, which every workspace package's "exports" points at its
// src/ (as `tsx --conditions=development` does for `pnpm dev`), so no module-name mapping is needed.
const path = require('node:path');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: path.join(__dirname, 'jest-environment.js'),
  testEnvironmentOptions: { customExportConditions: ['development', 'node', 'node-addons'] },
  testMatch: ['<rootDir>/src/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      require.resolve('@swc/jest'),
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  testTimeout: 30000,
};
