import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { ConfigError } from '../config/config-error';
import { loadServingConfig, type ServingEnv } from '../config/serving-config';
import type { PredictorDefinition } from '../inference/predictor';
import { PredictorRuntime } from '../inference/predictor-runtime';
import { ServiceState } from '../lifecycle/service-state';
import { closeServer, registerShutdown } from '../lifecycle/shutdown';
import { createLogger, type Logger } from '../logging/logger';
import { createServingMetrics, Registry, type ServingMetrics } from '../metrics/metrics';
import { createServiceApp, type ServiceAppDeps } from './create-service-app';

/** Runtime options of a predictor from the serving variables. */
export function runtimeOptions(config: ServingEnv, logger: Logger, metrics: ServingMetrics | undefined) {
  return {
    modelDir: config.MODEL_DIR,
    version: config.MODEL_VERSION,
    mode: config.INFERENCE_MODE,
    workers: config.INFERENCE_WORKERS,
    intraOpThreads: config.ORT_INTRA_OP_THREADS,
    interOpThreads: config.ORT_INTER_OP_THREADS,
    allowSpinning: config.ORT_ALLOW_SPINNING,
    verifyGolden: config.MODEL_VERIFY_GOLDEN,
    batching: {
      maxBatchSize: config.MAX_BATCH_SIZE,
      maxDelayMs: config.MAX_BATCH_DELAY_MS,
      maxQueueRows: config.MAX_QUEUE_ROWS,
      timeoutMs: config.REQUEST_TIMEOUT_MS,
    },
    metrics,
    logger,
  };
}

/** `version` of the package.json at `packageJsonPath`. */
export function packageVersion(packageJsonPath: string): string {
  return (JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version: string }).version;
}

export interface RunServiceOptions<I, O, A> {
  service: string;
  version: string;
  predictor: PredictorDefinition<I, O, A>;
  /** A service's own config loader (its schema extends servingEnvSchema); loadServingConfig otherwise. */
  loadConfig?: (env: NodeJS.ProcessEnv) => ServingEnv;
  env?: NodeJS.ProcessEnv;
  /** Defaults to createServiceApp; a service that adds routes passes its own createApp. */
  createApp?: (deps: ServiceAppDeps<I, O, A>) => ReturnType<typeof createServiceApp>;
}

/**
 * Starts a prediction service: config (a bad value exits 1 naming the variable), logger, metrics, listen
 * (liveness answers at once; readiness once the model is warm), model load, and the shutdown sequence.
 */
export async function runService<I, O, A>(
  options: RunServiceOptions<I, O, A>,
): Promise<{ server: Server; shutdown(reason: string, exitCode?: number): Promise<void> }> {
  let config: ServingEnv;
  try {
    config = (options.loadConfig ?? loadServingConfig)(options.env ?? process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `${JSON.stringify({ level: 'error', service: options.service, message: error.message, problems: error.problems, timestamp: new Date().toISOString() })}\n`,
      );
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ service: options.service, level: config.LOG_LEVEL });
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  const metrics = createServingMetrics(registry);
  const runtime = new PredictorRuntime(options.predictor, runtimeOptions(config, logger, metrics));
  const state = new ServiceState();
  const deps: ServiceAppDeps<I, O, A> = { service: options.service, version: options.version, config, logger, metrics, runtime, state };
  const app = (options.createApp ?? createServiceApp)(deps);

  if (config.API_KEYS_PREDICT.length + config.API_KEYS_ADMIN.length === 0) {
    logger.warn('AUTH DISABLED: no API_KEYS_PREDICT or API_KEYS_ADMIN is set, so every route is open. Set them in production.');
  }

  const server = app.listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 65_000; // longer than nginx's upstream keepalive_timeout (60 s)
  const address = server.address();
  logger.info('listening', { host: config.HOST, port: typeof address === 'object' && address ? address.port : config.PORT });

  const { shutdown } = registerShutdown({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS + 5_000,
    steps: [
      { name: 'readiness 503', run: () => state.startDraining() },
      { name: 'stop accepting HTTP and drain in-flight requests', run: () => closeServer(server, config.SHUTDOWN_TIMEOUT_MS) },
      { name: 'release model sessions', run: () => runtime.stop() },
    ],
  });

  // A stray rejection is a bug to log, not a reason to drop every in-flight request; an uncaught exception
  // leaves state unknown, so the process drains what it can and exits 1 for the supervisor to restart it.
  process.on('unhandledRejection', (reason) => {
    const e = reason instanceof Error ? reason : new Error(String(reason));
    logger.error('unhandled promise rejection', { error: { message: e.message, stack: e.stack } });
  });
  process.on('uncaughtException', (error) => {
    logger.error('uncaught exception; shutting down', { error: { message: error.message, stack: error.stack } });
    void shutdown('uncaughtException', 1);
  });

  try {
    await runtime.start();
  } catch (error) {
    const e = error as Error & { details?: unknown };
    logger.error('model failed to load; exiting', { error: { message: e.message, details: e.details, stack: e.stack } });
    server.close();
    process.exit(1);
  }
  logger.info('ready', { model: runtime.model().name, version: runtime.model().version });
  return { server, shutdown };
}
