module.exports = { preset: '@predict/jest-config' };
