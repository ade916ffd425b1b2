import type { ServingEnv } from '../config/serving-config';
import type { RuntimeOptions } from '../inference/predictor-runtime';
import type { Logger } from '../logging/logger';
import type { ServingMetrics } from '../metrics/metrics';

/** Runtime options of a predictor from the serving variables. */
export function runtimeOptions(config: ServingEnv, logger: Logger, metrics: ServingMetrics | undefined): RuntimeOptions {
  return {
    modelDir: config.MODEL_DIR,
    version: config.MODEL_VERSION,
    mode: config.INFERENCE_MODE,
    workers: config.INFERENCE_WORKERS,
    runTimeoutMs: config.INFERENCE_RUN_TIMEOUT_MS,
    intraOpThreads: config.ORT_INTRA_OP_THREADS,
    interOpThreads: config.ORT_INTER_OP_THREADS,
    allowSpinning: config.ORT_ALLOW_SPINNING,
    verifyGolden: config.MODEL_VERIFY_GOLDEN,
    prepareConcurrency: config.PREPARE_CONCURRENCY,
    warmupTimeoutMs: config.WARMUP_TIMEOUT_MS,
    bulkRunRows: config.BULK_RUN_ROWS,
    batching: {
      maxBatchSize: config.MAX_BATCH_SIZE,
      maxDelayMs: config.MAX_BATCH_DELAY_MS,
      maxQueueRows: config.MAX_QUEUE_ROWS,
      maxQueueBytes: config.MAX_QUEUE_BYTES,
      timeoutMs: config.REQUEST_TIMEOUT_MS,
    },
    drift: config.DRIFT_MONITORING ? { windowRows: config.DRIFT_WINDOW_ROWS, minRows: config.DRIFT_MIN_ROWS, threshold: config.DRIFT_PSI_THRESHOLD } : undefined,
    metrics,
    logger,
  };
}
