// The one jest preset every package uses: swc transpiles TypeScript (type checking is `pnpm typecheck`),
// and workspace packages resolve to their sources so tests never run against a stale build.
const path = require('node:path');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: path.join(__dirname, 'jest.environment.js'),
  testMatch: ['<rootDir>/src/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      require.resolve('@swc/jest'),
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  moduleNameMapper: {
    '^@predict/serving$': path.join(__dirname, 'packages/serving/src/index.ts'),
    '^@predict/serving/testing$': path.join(__dirname, 'packages/serving/src/testing/index.ts'),
  },
  testTimeout: 30000,
};
