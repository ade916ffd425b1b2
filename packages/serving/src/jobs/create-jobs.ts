import { JobProducer } from '@predict/jobs';
import type { ServingEnv } from '../config/serving-config';
import type { ReadinessCheck } from '../health/health';
import type { ShutdownStep } from '../lifecycle/shutdown';
import type { Logger } from '../logging/logger';
import { createRedis, type RedisConnection } from '../redis/create-redis';

export type JobsConfig = Pick<
  ServingEnv,
  'REDIS_URL' | 'REDIS_KEY_PREFIX' | 'JOBS' | 'JOBS_PREFIX' | 'JOBS_BODY_LIMIT_BYTES' | 'JOBS_MAX_INSTANCES' | 'JOBS_CHUNK_ROWS' | 'JOBS_RESULTS_TTL_SECONDS'
>;

/** A service's side of the batch tier: the producer of its queue (named after the service) on a fail-fast connection. */
export interface JobsParts {
  redis: RedisConnection;
  producer: JobProducer;
  limits: { bodyBytes: number; maxInstances: number; chunkRows: number; resultsTtlSeconds: number };
  /** `jobs` in /health: degraded while Redis is away; readiness stays green (online predictions do not need it). */
  readiness: ReadinessCheck;
  start(): void;
  shutdownSteps(): ShutdownStep[];
}

/**
 * The jobs routes' backend when REDIS_URL is set and JOBS is on; undefined otherwise (the routes then answer
 * 503 saying so). Its own Redis connection (role `jobs`) fails fast: a request never waits for an absent Redis.
 */
export function createJobs(config: JobsConfig, { service, logger }: { service: string; logger: Logger }): JobsParts | undefined {
  if (config.JOBS !== 'on' || config.REDIS_URL === undefined) return undefined;
  const redis = createRedis({ REDIS_URL: config.REDIS_URL, REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX }, logger, { role: 'jobs', service, commandTimeoutMs: 5000 });
  const producer = new JobProducer(service, { connection: redis.client, prefix: config.JOBS_PREFIX });
  return {
    redis,
    producer,
    limits: {
      bodyBytes: config.JOBS_BODY_LIMIT_BYTES,
      maxInstances: config.JOBS_MAX_INSTANCES,
      chunkRows: config.JOBS_CHUNK_ROWS,
      resultsTtlSeconds: config.JOBS_RESULTS_TTL_SECONDS,
    },
    readiness: redis.readiness('jobs'),
    start: () => redis.start(),
    shutdownSteps: () => [
      { name: 'close the jobs queue', run: () => Promise.race([producer.close().catch(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())]) },
      { name: 'quit the jobs Redis', run: () => redis.stop(1000) },
    ],
  };
}
