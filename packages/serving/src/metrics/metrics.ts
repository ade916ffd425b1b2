import type { DriftSnapshot } from '../drift/drift-monitor';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Request latency: from 0.25 ms, because a tabular prediction answers well under prom-client's 5 ms floor. */
export const HTTP_DURATION_BUCKETS = [
  0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** One session.run: from 25 µs (a small tree ensemble on one row) to seconds (an image batch). */
export const INFERENCE_DURATION_BUCKETS = [
  0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/**
 * Every metric of a serving process, registered on the one Registry the process owns. Labels come only from
 * small fixed sets: route template, method, status class... never ids or raw paths.
 */
export function createServingMetrics(registry: Registry, options: { defaultMetrics?: boolean } = {}) {
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  /** Per model, the functions that report its queued rows (a runtime registers one; read at scrape time). */
  const queueSources = new Map<string, Set<() => number>>();
  /** The functions that report entries waiting in a prediction log's buffer (read at scrape time). */
  const predictionLogBuffers = new Set<() => number>();
  /** Per model, the function that reports its drift (the serving version's monitor; read at scrape time). */
  const driftSources = new Map<string, () => DriftSnapshot | undefined>();
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by route template, method and status code.',
      labelNames: ['route', 'method', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request arrival to the end of the response.',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: HTTP_DURATION_BUCKETS,
      registers,
    }),
    inferenceDuration: new Histogram({
      name: 'model_inference_duration_seconds',
      help: 'Duration of one model run (one batch).',
      labelNames: ['model', 'version'] as const,
      buckets: INFERENCE_DURATION_BUCKETS,
      registers,
    }),
    prepareDuration: new Histogram({
      name: 'model_prepare_duration_seconds',
      help: 'Duration of one prepare call (all instances of a request or bulk piece), queueing for a slot included.',
      labelNames: ['model'] as const,
      buckets: INFERENCE_DURATION_BUCKETS,
      registers,
    }),
    batchSize: new Histogram({
      name: 'model_batch_size_rows',
      help: 'Rows per model run after dynamic batching.',
      labelNames: ['model', 'version'] as const,
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    }),
    predictions: new Counter({
      name: 'predictions_total',
      help: 'Rows predicted.',
      labelNames: ['model', 'version'] as const,
      registers,
    }),
    inferenceErrors: new Counter({
      name: 'model_inference_errors_total',
      help: 'Model runs that failed.',
      labelNames: ['model', 'version'] as const,
      registers,
    }),
    queueRejections: new Counter({
      name: 'model_queue_rejections_total',
      help: 'Rows refused with 503 because the inference queue was full, or that timed out waiting.',
      labelNames: ['model', 'reason'] as const,
      registers,
    }),
    queueDepth: new Gauge({
      name: 'model_queue_depth',
      help: 'Rows waiting for a model run (every live version of the model), read at scrape time.',
      labelNames: ['model'] as const,
      registers,
      collect() {
        this.reset();
        for (const [model, sources] of queueSources) {
          let rows = 0;
          for (const read of sources) rows += read();
          this.set({ model }, rows);
        }
      },
    }),
    /** Registers a source of queued rows for `model`; returns the function that unregisters it. */
    watchQueue(model: string, read: () => number): () => void {
      const sources = queueSources.get(model) ?? new Set();
      sources.add(read);
      queueSources.set(model, sources);
      return () => sources.delete(read);
    },
    modelInfo: new Gauge({
      name: 'model_info',
      help: 'The model version serving (value 1).',
      labelNames: ['model', 'version', 'sha256'] as const,
      // Under WORKERS>1 every process reports the version it serves: 1, not the number of processes.
      aggregator: 'max',
      registers,
    }),
    modelReloads: new Counter({
      name: 'model_reloads_total',
      help: 'Hot reloads, by outcome.',
      labelNames: ['model', 'outcome'] as const,
      registers,
    }),
    // --- prediction log (src/prediction-log) ---
    predictionLogWritten: new Counter({
      name: 'prediction_log_written_total',
      help: 'Predictions written to the prediction log stream.',
      registers,
    }),
    predictionLogDropped: new Counter({
      name: 'prediction_log_dropped_total',
      help: 'Predictions never written to the prediction log: buffer_full (Redis away or slow), unserializable, shutdown.',
      labelNames: ['reason'] as const,
      registers,
    }),
    predictionLogBuffer: new Gauge({
      name: 'prediction_log_buffer_entries',
      help: 'Predictions waiting in memory to be written to the prediction log, read at scrape time.',
      registers,
      collect() {
        let entries = 0;
        for (const read of predictionLogBuffers) entries += read();
        this.set(entries);
      },
    }),
    /** Registers a source of buffered prediction-log entries; returns the function that unregisters it. */
    watchPredictionLogBuffer(read: () => number): () => void {
      predictionLogBuffers.add(read);
      return () => predictionLogBuffers.delete(read);
    },
    // --- end prediction log ---
    // --- drift (src/drift) ---
    featureDrift: new Gauge({
      name: 'model_feature_drift_psi',
      help: "Population stability index of each monitored feature over the window of served rows against the card's training reference (absent until the window holds DRIFT_MIN_ROWS rows).",
      labelNames: ['model', 'feature'] as const,
      registers,
      // Under WORKERS > 1 each worker keeps its own window: the cluster shows the worst, not a sum.
      aggregator: 'max',
      collect() {
        this.reset();
        for (const [model, read] of driftSources) for (const [feature, value] of read()?.psi ?? []) this.set({ model, feature }, value);
      },
    }),
    driftDetected: new Gauge({
      name: 'model_drift_detected',
      help: '1 when any monitored feature has a PSI above DRIFT_PSI_THRESHOLD, else 0.',
      labelNames: ['model'] as const,
      registers,
      aggregator: 'max',
      collect() {
        this.reset();
        for (const [model, read] of driftSources) {
          const snapshot = read();
          if (snapshot) this.set({ model }, snapshot.detected ? 1 : 0);
        }
      },
    }),
    /** Registers the drift source of `model`; returns the function that unregisters it. */
    watchDrift(model: string, read: () => DriftSnapshot | undefined): () => void {
      driftSources.set(model, read);
      return () => driftSources.delete(model);
    },
    // --- end drift ---
  };
}

export type ServingMetrics = ReturnType<typeof createServingMetrics>;
export { Registry };
