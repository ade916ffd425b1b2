// Unit tests (`pnpm test`): renderings, nginx -t, promtool. The system tests (real nginx in front of real
// replicas, kills and restarts) run in their own turbo task, `test:system` (jest.system.config.js).
module.exports = { preset: '@predict/jest-config', testPathIgnorePatterns: ['\\.system\\.test\\.ts$'] };
