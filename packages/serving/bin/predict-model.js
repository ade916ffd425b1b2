#!/usr/bin/env node
// `predict-model` (src/cli/model-admin.ts). A committed entry point: pnpm links a workspace package's bins at
// install time, before `pnpm build` has written dist/, and skips a bin whose file does not exist yet.
require('../dist/cli/model-admin.js');
