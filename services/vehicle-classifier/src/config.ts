import { intVar, loadServingConfig, servingEnvSchema } from '@predict/serving';

/**
 * The image limits, read by this service and by the batch worker for its vehicle-classifier queue (the same
 * variables, so a job's image is held to what an upload is).
 */
export const imageLimitsEnv = {
  /** Largest image file accepted, in bytes (multipart file, decoded image_base64, a job's file); past it 413. */
  MAX_IMAGE_BYTES: intVar(8 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  /** Most pixels (width × height) an image may declare; past it 400 before decoding (decompression bombs). */
  MAX_IMAGE_PIXELS: intVar(25_000_000, 1024, 268_402_689),
};

/** Images per chunk of a job's input and results (`POST /v1/jobs`, JOBS_CHUNK_ROWS): what the worker holds at once. */
export const IMAGE_JOB_CHUNK_ROWS = 16;

/**
 * vehicle-classifier reads every serving variable (README.md lists them) and its own: the image limits and
 * the result cache.
 */
export const envSchema = servingEnvSchema.extend({
  PORT: intVar(8003, 0, 65535),
  ...imageLimitsEnv,
  /** Rows per stored chunk of a `POST /v1/jobs` input: images are large, so 16 (not the core's 10,000). */
  JOBS_CHUNK_ROWS: intVar(IMAGE_JOB_CHUNK_ROWS, 1, 1000),
  /** Seconds a cached classification lives in Redis (REDIS_URL set); 0 turns the cache off. */
  RESULT_CACHE_TTL_SECONDS: intVar(86_400, 0, 30 * 86_400),
  /** A cache read or write that has not answered after this long is given up (the request goes on uncached). */
  RESULT_CACHE_TIMEOUT_MS: intVar(50, 1, 10_000),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadServingConfig(env, envSchema);
}
