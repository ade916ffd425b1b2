#!/usr/bin/env node
/**
 * `predict-model`: the model repository from the command line, with the same code as the admin routes.
 *
 *   predict-model status   --predictor <module>
 *   predict-model promote  --predictor <module> [--version N] [--force] [--reason TEXT]
 *   predict-model rollback --predictor <module> [--reason TEXT]
 *
 * <module> exports the service's predictor (e.g. `./dist/predictor.js`, `@predict/taxi-eta/predictor`).
 * MODEL_DIR and every serving variable are read as the service reads them. Running replicas follow the
 * `active` pointer within MODEL_POLL_INTERVAL_MS. Prints one JSON object; exits 1 with a message on refusal.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadServingConfig } from '../config/serving-config';
import { HttpError } from '../errors/http-error';
import type { AnyPredictor } from '../inference/predictor';
import { ModelPromoter } from '../inference/promotion';
import { servingVersion } from '../inference/model-state';
import { createLogger } from '../logging/logger';
import { runtimeOptions } from '../service/runtime-options';

function findPredictor(specifier: string): AnyPredictor {
  const resolved = specifier.startsWith('.') || path.isAbsolute(specifier) ? path.resolve(specifier) : specifier;
  const exports = require(resolved) as Record<string, unknown>;
  const found = Object.values(exports).find(
    (v): v is AnyPredictor => typeof v === 'object' && v !== null && 'featurize' in v && 'input' in v && 'defaultModelDir' in v,
  );
  if (!found) throw new Error(`${specifier} exports no predictor definition`);
  return found;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    // `pnpm promote -- --force` passes the `--` through: it separates nothing here.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    allowPositionals: true,
    options: {
      predictor: { type: 'string' },
      version: { type: 'string' },
      force: { type: 'boolean', default: false },
      reason: { type: 'string' },
      actor: { type: 'string', default: `cli:${os.userInfo().username}` },
    },
  });
  const command = positionals[0];
  if (!command || !['status', 'promote', 'rollback'].includes(command) || !values.predictor) {
    throw new Error('usage: predict-model <status|promote|rollback> --predictor <module> [--version N] [--force] [--reason TEXT]');
  }
  const config = loadServingConfig({ LOG_LEVEL: 'warn', ...process.env });
  const logger = createLogger({ service: 'predict-model', level: config.LOG_LEVEL });
  const predictor = findPredictor(values.predictor);
  const options = runtimeOptions(config, logger, undefined);
  const promoter = new ModelPromoter(predictor, { ...options, verifyGolden: true });
  let result: unknown;
  if (command === 'status') {
    result = {
      versions: await promoter.repository.versions(),
      active: (await promoter.state.active()) ?? null,
      serving_by_default: await servingVersion(promoter.repository, promoter.state).catch(() => null),
      history: await promoter.state.history(),
    };
  } else if (command === 'promote') {
    result = await promoter.promote({ version: values.version, force: values.force, reason: values.reason, actor: values.actor as string });
  } else {
    result = await promoter.rollback({ reason: values.reason, actor: values.actor as string });
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((error: unknown) => {
  const e = error as Error & { details?: unknown };
  process.stderr.write(`${JSON.stringify({ error: error instanceof HttpError ? error.code : e.name, message: e.message, details: e.details })}\n`);
  process.exit(1);
});
