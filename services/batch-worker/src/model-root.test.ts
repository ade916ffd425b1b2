import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flightDelayPredictor } from '@predict/flight-delay/predictor';
import { createLogger, createServingMetrics, Registry } from '@predict/serving';
import { testRedisUrl } from '@predict/serving/testing';
import { loadConfig } from './config';
import { testProducer, uniqueQueuePrefix } from './test-support';
import { WorkerTier } from './worker-tier';

/**
 * WORKER_MODEL_ROOT: queue q reads <root>/q — the service's MODEL_DIR on compose's shared volume — not the
 * model directory its package ships, so it follows the `active` pointer the service's promotions write.
 */

const prefix = uniqueQueuePrefix('model-root');
let root: string;

function tier(modelRoot: string): WorkerTier {
  const config = loadConfig({
    REDIS_URL: testRedisUrl(),
    JOBS_PREFIX: prefix,
    WORKER_MODEL_ROOT: modelRoot,
    // The directory is what is tested: no inference threads to start or stop.
    INFERENCE_MODE: 'inline',
    MODEL_POLL_INTERVAL_MS: '0',
    LOG_LEVEL: 'error',
  });
  return new WorkerTier({
    config,
    services: [{ queue: 'flight-delay', predictor: flightDelayPredictor }],
    logger: createLogger({ service: 'batch-worker-test', level: 'error' }),
    metrics: createServingMetrics(new Registry(), { defaultMetrics: false }),
  });
}

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'worker-model-root-'));
});

afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  // The Workers' queue keys under this file's prefix.
  await (await testProducer(prefix)).cleanup();
});

test('a queue loads its model from <WORKER_MODEL_ROOT>/<queue>, and fails naming that directory when it is empty', async () => {
  const empty = tier(root);
  try {
    // The message names the directory by its last segment (no paths in answers); the cause has the whole path.
    const error = (await empty.start().then(() => undefined, (e: unknown) => e)) as Error & { cause?: NodeJS.ErrnoException };
    expect(error?.message).toMatch(/model directory flight-delay cannot be read/);
    expect(error.cause?.path).toBe(path.join(root, 'flight-delay'));
  } finally {
    await empty.stop(5_000);
  }

  cpSync(flightDelayPredictor.defaultModelDir, path.join(root, 'flight-delay'), { recursive: true });
  const seeded = tier(root);
  try {
    await seeded.start();
    expect(seeded.ready).toBe(true);
  } finally {
    await seeded.stop(10_000);
  }
}, 120_000);
