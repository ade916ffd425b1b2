import { Writable } from 'node:stream';
import { loadServingConfig, type ServingEnv } from '../config/serving-config';
import type { PredictorDefinition } from '../inference/predictor';
import { createLogger } from '../logging/logger';
import { createServingMetrics, Registry } from '../metrics/metrics';
import { assembleService, type AssembleOptions } from '../service/assemble-service';
import type { createServiceApp, ServiceAppDeps } from '../service/create-service-app';

/** Collects a logger's JSON lines so a test can read what was logged. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    callback();
  }
}

export interface TestServiceOptions<I, O, A, P = I, C extends ServingEnv = ServingEnv> {
  predictor: PredictorDefinition<I, O, A, P>;
  /** The service's name (default `test`): names its jobs queue and its prediction-log stream. */
  service?: string;
  /** Variables as the process would see them; LOG_LEVEL defaults to warn and ACCESS_LOG to false. */
  env?: Record<string, string>;
  /** Load the model before returning (default true). */
  start?: boolean;
  createApp?: (deps: ServiceAppDeps<I, O, A, P>) => ReturnType<typeof createServiceApp>;
  /** The service's own config loader and parts, as runService takes them. */
  loadConfig?: (env: NodeJS.ProcessEnv) => C;
  parts?: AssembleOptions<I, O, A, P, C>['parts'];
}

/**
 * A service wired exactly as runService wires it (real config parsing, real model, real metrics), without
 * listening or signal handlers: tests drive `app` with supertest and call `stop()` after.
 */
export async function startTestService<I, O, A, P, C extends ServingEnv = ServingEnv>(options: TestServiceOptions<I, O, A, P, C>) {
  const config = (options.loadConfig ?? (loadServingConfig as (env: NodeJS.ProcessEnv) => C))({ LOG_LEVEL: 'warn', ACCESS_LOG: 'false', NODE_ENV: 'test', ...options.env });
  const logs = new LogCapture();
  const logger = createLogger({ service: 'test', level: config.LOG_LEVEL, stream: logs, redactFields: options.predictor.redactFields });
  const metrics = createServingMetrics(new Registry(), { defaultMetrics: false });
  // PREDICTION_LOG=on in `env`: wired and stopped as runService does (the stream is `<REDIS_KEY_PREFIX>predictions:test`).
  const service = assembleService({ service: options.service ?? 'test', version: '0.0.0-test', predictor: options.predictor, config, logger, metrics, createApp: options.createApp, parts: options.parts });
  const { app, deps } = service;
  await service.start(options.start ?? true);
  return {
    ...deps,
    app,
    logs,
    /** Value of a metric series (sum of matching label sets), for assertions. */
    async metricValue(name: string, labels: Record<string, string> = {}, suffix = ''): Promise<number> {
      const metric = await metrics.registry.getSingleMetric(name)?.get();
      if (!metric) throw new Error(`no metric ${name}`);
      // Histogram series carry metricName (`x_bucket`, `x_sum`, `x_count`); counters and gauges do not.
      const series = (v: object) => ('metricName' in v && typeof v.metricName === 'string' ? v.metricName : name);
      return metric.values
        .filter((v) => series(v) === `${name}${suffix}`)
        .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
        .reduce((sum, v) => sum + v.value, 0);
    },
    /** The shutdown steps after the HTTP drain: the prediction log's (write, quit Redis), then the model sessions. */
    async stop(): Promise<void> {
      for (const step of service.stopSteps) await step.run();
    },
  };
}

export type TestService = Awaited<ReturnType<typeof startTestService>>;
