import { z } from 'zod';
import { parseKeyEntry } from '../auth/api-keys';
import { isRedisKeyPrefix, isRedisUrl } from '../redis/redis-url';
import { boolVar, intVar, listVar, numberVar, optionalStringVar, parseEnv } from './env';
import { ConfigError } from './config-error';

const MIN_KEY_LENGTH = 16;

/** Comma-separated keys, each `id:key` (the id names the caller in logs) or a bare key. */
const apiKeysVar = () =>
  listVar().refine((keys) => keys.every((k) => parseKeyEntry(k).key.length >= MIN_KEY_LENGTH), {
    message: `every key must be at least ${MIN_KEY_LENGTH} characters (after an optional 'id:')`,
  });

/**
 * Every variable a prediction service reads. Services extend it with their own (`servingEnvSchema.extend`).
 * Defaults suit development; README.md documents each one.
 */
export const servingEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: intVar(8080, 0, 65535),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  /** Access log line per request (info level). Errors are logged regardless. */
  ACCESS_LOG: boolVar(true),

  MODEL_DIR: optionalStringVar(),
  MODEL_VERSION: optionalStringVar().refine((v) => v === undefined || /^\d+$/.test(v), 'must be a whole number'),
  MODEL_VERIFY_GOLDEN: boolVar(true),
  /** How often each replica re-reads `<MODEL_DIR>/active` to follow promotions and rollbacks; 0 = never. */
  MODEL_POLL_INTERVAL_MS: intVar(2000, 0, 3_600_000),

  MAX_BATCH_SIZE: intVar(64, 1, 65536),
  MAX_BATCH_DELAY_MS: intVar(0, 0, 10000),
  MAX_QUEUE_ROWS: intVar(16_384, 1, 10_000_000),
  MAX_QUEUE_BYTES: intVar(268_435_456, 1024, 68_719_476_736),
  PREPARE_CONCURRENCY: intVar(4, 1, 1024),
  WARMUP_TIMEOUT_MS: intVar(60_000, 1, 3_600_000),
  BULK_RUN_ROWS: intVar(1024, 1, 1_000_000),
  REQUEST_TIMEOUT_MS: intVar(5000, 1, 600_000),
  /** Processes of this service sharing its port (node:cluster); 1 = no cluster. README: when to prefer replicas. */
  WORKERS: intVar(1, 1, 64),
  INFERENCE_MODE: z.enum(['inline', 'worker']).default('inline'),
  INFERENCE_WORKERS: intVar(0, 0, 256),
  INFERENCE_RUN_TIMEOUT_MS: intVar(60_000, 100, 3_600_000),
  ORT_INTRA_OP_THREADS: intVar(0, 0, 256),
  ORT_INTER_OP_THREADS: intVar(0, 0, 256),
  ORT_ALLOW_SPINNING: boolVar(false),

  API_KEYS_PREDICT: apiKeysVar(),
  API_KEYS_ADMIN: apiKeysVar(),
  METRICS_REQUIRE_AUTH: boolVar(false),
  CORS_ORIGINS: listVar(),
  BODY_LIMIT_BYTES: intVar(1_048_576, 1024, 104_857_600),
  TRUST_PROXY: z.string().default('loopback'),
  DOCS_ENABLED: boolVar(true),
  /** Longest a client may take to send the request headers; then 408 (Node's headersTimeout). */
  HTTP_HEADERS_TIMEOUT_MS: intVar(10_000, 1, 3_600_000),
  /** Longest a client may take to send the whole request, body included; then 408 (Node's requestTimeout). */
  HTTP_REQUEST_TIMEOUT_MS: intVar(30_000, 1, 3_600_000),
  /** Idle keep-alive connections close after this; longer than nginx's upstream keepalive_timeout (60 s). */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: intVar(65_000, 1, 3_600_000),

  /** After SIGTERM/SIGINT, readiness answers 503 this long while requests are still served, before the listener closes. */
  SHUTDOWN_GRACE_MS: intVar(1500, 0, 600_000),
  SHUTDOWN_TIMEOUT_MS: intVar(10_000, 0, 600_000),

  // --- Redis and the prediction log (packages/serving/src/redis, src/prediction-log) ---
  /** Unset: no Redis features. `redis://` or `rediss://` (TLS); user, password and db from the URL. Never echoed. */
  REDIS_URL: optionalStringVar().refine((v) => v === undefined || isRedisUrl(v), {
    message: 'must be a redis:// or rediss:// (TLS) URL with a host, e.g. redis://:password@host:6379/0',
  }),
  /** Put before every key this process writes; a `{hash tag}` (e.g. `{predict}:`) keeps them in one Cluster slot. */
  REDIS_KEY_PREFIX: optionalStringVar()
    .transform((v) => v ?? 'predict:')
    .refine(isRedisKeyPrefix, { message: 'at most 128 characters, no spaces, at most one non-empty {hash tag}' }),
  /** on: every prediction is appended to the Redis stream `<REDIS_KEY_PREFIX>predictions:<service>` (needs REDIS_URL). */
  PREDICTION_LOG: z.enum(['off', 'on']).default('off'),
  /** Approximate cap on the stream's length (XADD MAXLEN ~). */
  PREDICTION_LOG_MAXLEN: intVar(100_000, 1, 1_000_000_000),
  /** Entries that may wait in memory for Redis; past it the oldest are dropped (prediction_log_dropped_total). */
  PREDICTION_LOG_BUFFER: intVar(10_000, 1, 10_000_000),
  /** Entries per pipelined write. */
  PREDICTION_LOG_BATCH: intVar(100, 1, 10_000),
  // --- end Redis and the prediction log ---

  // --- Batch jobs over HTTP (packages/serving/src/jobs; the contract is @predict/jobs) ---
  /** on: POST/GET/DELETE /v1/jobs… enqueue to this service's BullMQ queue (needs REDIS_URL; without it they answer 503). */
  JOBS: z.enum(['off', 'on']).default('on'),
  /** BullMQ prefix of the queues; hash-tagged so every key of a queue is in one Redis Cluster slot. */
  JOBS_PREFIX: optionalStringVar()
    .transform((v) => v ?? '{predict}')
    .refine(isRedisKeyPrefix, { message: 'at most 128 characters, no spaces, at most one non-empty {hash tag}' }),
  /** Largest POST /v1/jobs body (separate from BODY_LIMIT_BYTES; streamed into Redis, never held whole). */
  JOBS_BODY_LIMIT_BYTES: intVar(536_870_912, 1024, 4_294_967_296),
  JOBS_MAX_INSTANCES: intVar(2_000_000, 1, 100_000_000),
  /** Instances per stored chunk (input and results). */
  JOBS_CHUNK_ROWS: intVar(10_000, 1, 1_000_000),
  JOBS_RESULTS_TTL_SECONDS: intVar(86_400, 1, 90 * 86_400),
  // --- end batch jobs ---
  // --- drift monitoring (packages/serving/src/drift): on for a model whose card has a drift_reference ---
  DRIFT_MONITORING: boolVar(true),
  /** Served rows in the sliding window compared with the training reference. */
  DRIFT_WINDOW_ROWS: intVar(5000, 10, 1_000_000),
  /** No PSI is reported until the window holds this many rows. */
  DRIFT_MIN_ROWS: intVar(500, 1, 1_000_000),
  /** model_drift_detected is 1 when any feature's PSI is above this. */
  DRIFT_PSI_THRESHOLD: numberVar(0.25, 0, 100),
  // --- end drift monitoring ---
});

export type ServingEnv = z.output<typeof servingEnvSchema>;

/** Parses the serving variables (or a service's extension of them); a bad value throws a ConfigError. */
export function loadServingConfig<S extends z.ZodObject = typeof servingEnvSchema>(
  env: NodeJS.ProcessEnv = process.env,
  schema?: S,
): z.output<S> {
  const parsed = parseEnv(schema ?? servingEnvSchema, env) as z.output<S> & ServingEnv;
  if (parsed.METRICS_REQUIRE_AUTH && parsed.API_KEYS_ADMIN.length + parsed.API_KEYS_PREDICT.length === 0) {
    throw new ConfigError([
      { variable: 'METRICS_REQUIRE_AUTH', reason: 'needs API_KEYS_PREDICT or API_KEYS_ADMIN to be set' },
    ]);
  }
  if (parsed.HTTP_HEADERS_TIMEOUT_MS > parsed.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError([
      { variable: 'HTTP_HEADERS_TIMEOUT_MS', reason: 'must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)' },
    ]);
  }
  if (parsed.PREDICTION_LOG === 'on' && parsed.REDIS_URL === undefined) {
    throw new ConfigError([{ variable: 'PREDICTION_LOG', reason: 'on needs REDIS_URL (the Redis the log is written to)' }]);
  }
  return parsed;
}
