// `pnpm test:system`: one file at a time (--runInBand), each starting its own nginx and replicas on ports
// 7200-7299. Long deadlines: the machine may be busy; nothing here asserts a duration.
module.exports = {
  preset: '@predict/jest-config',
  testMatch: ['<rootDir>/src/**/*.system.test.ts'],
  testTimeout: 240000,
};
