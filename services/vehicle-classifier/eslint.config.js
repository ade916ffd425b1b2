module.exports = require('@predict/eslint-config/base');
