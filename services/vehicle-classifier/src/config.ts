import { intVar, loadServingConfig, servingEnvSchema } from '@predict/serving';

/**
 * vehicle-classifier reads every serving variable (README.md lists them) and its own: the image limits and
 * the result cache.
 */
export const envSchema = servingEnvSchema.extend({
  PORT: intVar(8003, 0, 65535),
  /** Largest image file accepted, in bytes (multipart file or decoded image_base64); past it 413. */
  MAX_IMAGE_BYTES: intVar(8 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  /** Most pixels (width × height) an image may declare; past it 400 before decoding (decompression bombs). */
  MAX_IMAGE_PIXELS: intVar(25_000_000, 1024, 268_402_689),
  /** Seconds a cached classification lives in Redis (REDIS_URL set); 0 turns the cache off. */
  RESULT_CACHE_TTL_SECONDS: intVar(86_400, 0, 30 * 86_400),
  /** A cache read or write that has not answered after this long is given up (the request goes on uncached). */
  RESULT_CACHE_TIMEOUT_MS: intVar(50, 1, 10_000),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadServingConfig(env, envSchema);
}
