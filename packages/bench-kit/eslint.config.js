// A bench prints its figures: console is its output.
module.exports = [...require('@predict/eslint-config/base'), { rules: { 'no-console': 'off' } }];
