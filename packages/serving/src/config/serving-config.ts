import { z } from 'zod';
import { boolVar, intVar, listVar, optionalStringVar, parseEnv } from './env';
import { ConfigError } from './config-error';

const MIN_KEY_LENGTH = 16;

const apiKeysVar = () =>
  listVar().refine((keys) => keys.every((k) => k.length >= MIN_KEY_LENGTH), {
    message: `every key must be at least ${MIN_KEY_LENGTH} characters`,
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

  MAX_BATCH_SIZE: intVar(64, 1, 65536),
  MAX_BATCH_DELAY_MS: intVar(0, 0, 10000),
  MAX_QUEUE_ROWS: intVar(4096, 1, 1_000_000),
  REQUEST_TIMEOUT_MS: intVar(5000, 1, 600_000),
  INFERENCE_MODE: z.enum(['inline', 'worker']).default('inline'),
  INFERENCE_WORKERS: intVar(0, 0, 256),
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

  SHUTDOWN_TIMEOUT_MS: intVar(10_000, 0, 600_000),
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
  return parsed;
}
