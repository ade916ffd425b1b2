import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { ConfigError } from '../config/config-error';
import { loadServingConfig, type ServingEnv } from '../config/serving-config';
import type { PredictorDefinition } from '../inference/predictor';
import { listenFromConfig } from '../http/http-server';
import { reportWorkerReady, runClusterPrimary } from '../lifecycle/cluster';
import { httpShutdownSteps } from '../lifecycle/http-shutdown';
import { exitOnProcessErrors, registerShutdown } from '../lifecycle/shutdown';
import { createLogger } from '../logging/logger';
import { ClusterWorkerRegistry, serveClusterMetrics } from '../metrics/cluster-metrics';
import { createServingMetrics, Registry } from '../metrics/metrics';
import { assembleService, type ServiceParts } from './assemble-service';
import type { ServingMetrics } from '../metrics/metrics';
import type { Logger } from '../logging/logger';
import type { createServiceApp, ServiceAppDeps } from './create-service-app';

export { runtimeOptions } from './runtime-options';

/** `version` of the package.json at `packageJsonPath`. */
export function packageVersion(packageJsonPath: string): string {
  return (JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version: string }).version;
}

/**
 * `read()`'s result; a ConfigError (a bad or missing variable) becomes one JSON line on stderr naming the
 * variables, and exit 1. Anything else is thrown. Every entry point reads its configuration through it.
 */
export function configOrExit<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${JSON.stringify({ level: 'error', service, message: error.message, problems: error.problems, timestamp: new Date().toISOString() })}\n`);
    process.exit(1);
  }
}

export interface RunServiceOptions<I, O, A, P = I, C extends ServingEnv = ServingEnv> {
  service: string;
  version: string;
  predictor: PredictorDefinition<I, O, A, P>;
  /** A service's own config loader (its schema extends servingEnvSchema); loadServingConfig otherwise. */
  loadConfig?: (env: NodeJS.ProcessEnv) => C;
  /** The service's own long-lived parts (see ServiceParts), made from its config. */
  parts?: (context: { config: C; logger: Logger; metrics: ServingMetrics }) => ServiceParts<I, O, A, P>;
  env?: NodeJS.ProcessEnv;
  /** Defaults to createServiceApp; a service that adds routes passes its own createApp. */
  createApp?: (deps: ServiceAppDeps<I, O, A, P>) => ReturnType<typeof createServiceApp>;
}

/**
 * Starts a prediction service: config (a bad value exits 1 naming the variable), logger, metrics, listen
 * (liveness answers at once; readiness once the model is warm), model load, and the shutdown sequence.
 * With WORKERS=N > 1 this process becomes the primary of N such processes on one port (lifecycle/cluster)
 * and `server` is undefined in it.
 */
export async function runService<I, O, A, P, C extends ServingEnv = ServingEnv>(
  options: RunServiceOptions<I, O, A, P, C>,
): Promise<{ server: Server | undefined; shutdown(reason: string, exitCode?: number): Promise<void> }> {
  const config = configOrExit(options.service, () => (options.loadConfig ?? (loadServingConfig as (env: NodeJS.ProcessEnv) => C))(options.env ?? process.env));
  const serviceLogger = createLogger({ service: options.service, level: config.LOG_LEVEL, redactFields: options.predictor.redactFields });
  const logger = cluster.isWorker ? serviceLogger.child({ worker: cluster.worker?.id }) : serviceLogger;
  // --- WORKERS: several processes of the service on one port ---
  if (config.WORKERS > 1 && cluster.isPrimary) {
    const primary = runClusterPrimary({
      workers: config.WORKERS,
      logger: logger.child({ component: 'cluster' }),
      shutdownTimeoutMs: config.SHUTDOWN_GRACE_MS + config.SHUTDOWN_TIMEOUT_MS + 10_000,
      serveMetrics: serveClusterMetrics,
    });
    return {
      server: undefined,
      shutdown: async (reason) => {
        primary.stop(reason);
        await primary.stopped;
      },
    };
  }
  const registry = cluster.isWorker ? new ClusterWorkerRegistry() : new Registry();
  // --- end WORKERS ---
  registry.setDefaultLabels({ service: options.service });
  const metrics = createServingMetrics(registry);
  const service = assembleService({ ...options, config, logger, metrics });
  const { app, deps } = service;
  const { runtime, state } = deps;

  if (config.API_KEYS_PREDICT.length + config.API_KEYS_ADMIN.length === 0) {
    logger.warn('AUTH DISABLED: no API_KEYS_PREDICT or API_KEYS_ADMIN is set, so every route is open. Set them in production.');
  }

  const server = await listenFromConfig(app, config, logger);

  const { shutdown } = registerShutdown({
    logger,
    timeoutMs: config.SHUTDOWN_GRACE_MS + config.SHUTDOWN_TIMEOUT_MS + 5_000,
    steps: [
      ...httpShutdownSteps({ state, server, graceMs: config.SHUTDOWN_GRACE_MS, drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS }),
      ...service.stopSteps,
    ],
  });

  exitOnProcessErrors(logger, shutdown);

  try {
    await service.start();
  } catch (error) {
    logger.error('model failed to load; exiting', { error });
    server.close();
    process.exit(1);
  }
  logger.info('ready', { model: runtime.model().name, version: runtime.model().version });
  reportWorkerReady();
  return { server, shutdown };
}
