import type { ServingEnv } from '../config/serving-config';
import type { ShutdownStep } from '../lifecycle/shutdown';
import type { Logger } from '../logging/logger';
import type { ServingMetrics } from '../metrics/metrics';
import { createRedis, type RedisConnection } from '../redis/create-redis';
import { RedisPredictionLog } from './redis-prediction-log';

export type PredictionLogConfig = Pick<
  ServingEnv,
  'REDIS_URL' | 'REDIS_KEY_PREFIX' | 'PREDICTION_LOG' | 'PREDICTION_LOG_MAXLEN' | 'PREDICTION_LOG_BUFFER' | 'PREDICTION_LOG_BATCH'
>;

/** A write that has not answered after this long fails and is retried: a slow Redis holds one batch, never a request. */
const WRITE_TIMEOUT_MS = 1000;
/** Shutdown: how long the log may take to write what it holds, then how long QUIT may take. */
const FLUSH_ON_SHUTDOWN_MS = 2000;
const QUIT_ON_SHUTDOWN_MS = 1000;

export interface PredictionLogParts {
  redis: RedisConnection;
  log: RedisPredictionLog;
  /** What the app takes of it (ServiceAppDeps' `predictionLog` and `redis`). */
  appDeps: { predictionLog: RedisPredictionLog; redis: RedisConnection };
  /** Connects in the background and starts writing; never waits for Redis. */
  start(): void;
  /** After the HTTP drain: write what is buffered (bounded), then quit Redis. */
  shutdownSteps(): ShutdownStep[];
}

/**
 * The prediction log the configuration asks for (PREDICTION_LOG=on), on its own Redis connection (role
 * `prediction-log`: fail fast, bounded writes); undefined when the log is off. runService and the test service
 * wire it the same way.
 */
export function createPredictionLog(
  config: PredictionLogConfig,
  { service, logger, metrics, redactFields }: { service: string; logger: Logger; metrics: ServingMetrics; redactFields?: readonly string[] | undefined },
): PredictionLogParts | undefined {
  if (config.PREDICTION_LOG !== 'on' || config.REDIS_URL === undefined) return undefined;
  const redis = createRedis({ REDIS_URL: config.REDIS_URL, REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX }, logger, {
    role: 'prediction-log',
    service,
    commandTimeoutMs: WRITE_TIMEOUT_MS,
  });
  const log = new RedisPredictionLog({
    redis,
    service,
    logger,
    metrics,
    maxLen: config.PREDICTION_LOG_MAXLEN,
    bufferSize: config.PREDICTION_LOG_BUFFER,
    batchSize: config.PREDICTION_LOG_BATCH,
    redactFields,
  });
  return {
    redis,
    log,
    appDeps: { predictionLog: log, redis },
    start() {
      log.start();
      redis.start();
    },
    shutdownSteps: () => [
      { name: 'write the buffered prediction log', run: () => log.stop(FLUSH_ON_SHUTDOWN_MS) },
      { name: 'quit Redis', run: () => redis.stop(QUIT_ON_SHUTDOWN_MS) },
    ],
  };
}
