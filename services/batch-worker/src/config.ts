import { ConfigError, intVar, listVar, loadServingConfig, optionalStringVar, servingEnvSchema } from '@predict/serving';
import { DEFAULT_QUEUE_PREFIX } from '@predict/jobs';
import { imageLimitsEnv } from '@predict/vehicle-classifier/config';
import { z } from 'zod';

/**
 * The batch worker reads every serving variable (model directories, INFERENCE_*, ORT_*, API keys for
 * /admin/queues, REDIS_URL) plus its own WORKER_* and JOBS_PREFIX (README.md lists them). Inference runs on
 * worker threads by default: a blocked event loop cannot renew BullMQ's job locks.
 */
export const envSchema = servingEnvSchema.extend({
  PORT: intVar(8010, 0, 65535),
  INFERENCE_MODE: z.enum(['inline', 'worker']).default('worker'),
  /** Queues (services) this process works on; empty: every one it knows. */
  WORKER_QUEUES: listVar(),
  /** Jobs one queue's Worker runs at once in this process. */
  WORKER_CONCURRENCY: intVar(1, 1, 64),
  WORKER_LOCK_DURATION_MS: intVar(30_000, 500, 600_000),
  WORKER_STALLED_INTERVAL_MS: intVar(30_000, 200, 600_000),
  WORKER_MAX_STALLED_COUNT: intVar(3, 0, 100),
  /** Per queue: at most WORKER_RATE_LIMIT_JOBS jobs started per WORKER_RATE_LIMIT_MS across every worker (0: no limit). */
  WORKER_RATE_LIMIT_JOBS: intVar(0, 0, 1_000_000),
  WORKER_RATE_LIMIT_MS: intVar(1000, 1, 3_600_000),
  /** Retention of finished jobs in BullMQ (results live on for their own TTL). */
  WORKER_KEEP_COMPLETED_SECONDS: intVar(86_400, 0, 90 * 86_400),
  WORKER_KEEP_COMPLETED_COUNT: intVar(1000, 0, 1_000_000),
  WORKER_KEEP_FAILED_SECONDS: intVar(7 * 86_400, 0, 90 * 86_400),
  WORKER_KEEP_FAILED_COUNT: intVar(5000, 0, 1_000_000),
  /** SIGTERM: how long the current chunks may take to finish before the process exits anyway. */
  WORKER_DRAIN_TIMEOUT_MS: intVar(30_000, 0, 600_000),
  JOBS_PREFIX: optionalStringVar().transform((v) => v ?? DEFAULT_QUEUE_PREFIX),
  /** vehicle-classifier queue: MAX_IMAGE_BYTES and MAX_IMAGE_PIXELS, the service's own variables and defaults. */
  ...imageLimitsEnv,
  /** vehicle-classifier `images` source: the shared volume its paths are relative to (unset: the source refuses jobs). */
  JOBS_IMAGE_ROOT: optionalStringVar(),
  /** vehicle-classifier `images` source: most paths one job may list. */
  JOBS_IMAGE_MAX_PATHS: intVar(10_000, 1, 100_000),
  /**
   * Where the services' model directories live (compose: /models, the shared volume, where each service's
   * MODEL_DIR is /models/<service>): queue <q> then reads <WORKER_MODEL_ROOT>/<q> (queues are named after their
   * service) and follows its `active` pointer, so a promotion through the service reaches the worker. Unset:
   * each predictor's packaged model directory.
   */
  WORKER_MODEL_ROOT: optionalStringVar(),
});

export type Config = z.output<typeof envSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config & { REDIS_URL: string } {
  const config = loadServingConfig(env, envSchema);
  if (config.REDIS_URL === undefined) throw new ConfigError([{ variable: 'REDIS_URL', reason: 'the batch worker needs Redis (its queues)' }]);
  return config as Config & { REDIS_URL: string };
}
