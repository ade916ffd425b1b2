import { boolVar, intVar, loadServingConfig, parseEnv, servingEnvSchema } from '@predict/serving';
import { z } from 'zod';

/** iit-risk reads every serving variable (README.md lists them) and its own below. */
export const envSchema = servingEnvSchema.extend({
  PORT: intVar(8004, 0, 65535),
  /** The feature store and the audit stream live here; the service answers store-backed predictions only with it. */
  REDIS_URL: servingEnvSchema.shape.REDIS_URL.transform((v) => v ?? 'redis://127.0.0.1:6379'),
  /** Key of the HMAC-SHA256 of patient ids in audit records. Required, no default: at least 32 characters. Never logged. */
  AUDIT_HMAC_KEY: z
    .string({ message: 'is required: the key of the HMAC of patient ids in audit records (at least 32 characters)' })
    .min(32, 'must be at least 32 characters'),
  /** true: a prediction whose audit record cannot be written answers 503 audit_unavailable. false: inline predictions are answered unaudited (counted). */
  AUDIT_REQUIRED: boolVar(true),
  /** Approximate cap on the audit stream's length (XADD MAXLEN ~). */
  AUDIT_MAXLEN: intVar(1_000_000, 1, 1_000_000_000),
  /** How long a request id is remembered so that a retry of it never writes a second audit record. */
  AUDIT_DEDUPE_SECONDS: intVar(7 * 86_400, 1, 365 * 86_400),
  /** Retention of stored features: each PUT keeps them this many days, then Redis expires them. */
  FEATURE_TTL_DAYS: intVar(90, 1, 3650),
  /** A feature-store or audit command that has not answered after this long fails (503). */
  REDIS_COMMAND_TIMEOUT_MS: intVar(1000, 10, 60_000),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadServingConfig(env, envSchema);
}

/**
 * What the batch worker reads to run iit-risk's facility jobs and audit (the worker's own env, when its
 * iit-risk queue runs): the same store, audit and retention variables as the service, with the same values
 * (REDIS_URL and REDIS_KEY_PREFIX must name the service's store, AUDIT_HMAC_KEY its key).
 */
export const batchEnvSchema = envSchema.pick({
  REDIS_URL: true,
  REDIS_KEY_PREFIX: true,
  AUDIT_HMAC_KEY: true,
  AUDIT_REQUIRED: true,
  AUDIT_MAXLEN: true,
  AUDIT_DEDUPE_SECONDS: true,
  FEATURE_TTL_DAYS: true,
  REDIS_COMMAND_TIMEOUT_MS: true,
});

export type BatchConfig = z.output<typeof batchEnvSchema>;

export function loadBatchConfig(env: NodeJS.ProcessEnv = process.env): BatchConfig {
  return parseEnv(batchEnvSchema, env);
}
