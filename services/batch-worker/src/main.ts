import path from 'node:path';
import {
  configOrExit,
  Registry,
  ServiceState,
  createLogger,
  createServingMetrics,
  httpShutdownSteps,
  listenFromConfig,
  packageVersion,
  exitOnProcessErrors,
  registerShutdown,
} from '@predict/serving';
import { createApp } from './app';
import { loadConfig } from './config';
import { createServices } from './services';
import { WorkerTier } from './worker-tier';

async function main(): Promise<void> {
  const config = configOrExit('batch-worker', () => loadConfig(process.env));
  const logger = createLogger({ service: 'batch-worker', level: config.LOG_LEVEL });
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'batch-worker' });
  const metrics = createServingMetrics(registry);
  // A queue's parts read their own variables here (iit-risk: AUDIT_HMAC_KEY and the store's).
  const tier = configOrExit('batch-worker', () => new WorkerTier({ config, services: createServices(config), logger, metrics }));
  const state = new ServiceState();
  const app = createApp({
    config,
    version: packageVersion(path.resolve(__dirname, '../package.json')),
    logger,
    metrics,
    tier,
    startedAt: state.startedAt,
    isDraining: () => state.draining,
  });
  const server = await listenFromConfig(app, config, logger);
  const { shutdown } = registerShutdown({
    logger,
    timeoutMs: config.WORKER_DRAIN_TIMEOUT_MS + config.SHUTDOWN_GRACE_MS + config.SHUTDOWN_TIMEOUT_MS + 10_000,
    steps: [
      // Workers first: a job in progress finishes its chunk and goes back to wait; then the HTTP port closes.
      { name: 'drain workers, close queues, quit Redis, release models', run: () => tier.stop(config.WORKER_DRAIN_TIMEOUT_MS) },
      ...httpShutdownSteps({ state, server, graceMs: 0, drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS }),
    ],
  });
  exitOnProcessErrors(logger, shutdown);
  try {
    await tier.start();
  } catch (error) {
    logger.error('start-up failed; exiting', { error });
    process.exit(1);
  }
  logger.info('ready', { queues: tier.queues.map((q) => q.service.queue) });
}

main().catch((error: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', message: error.message, stack: error.stack })}\n`);
  process.exit(1);
});
