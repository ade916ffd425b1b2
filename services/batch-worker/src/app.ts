import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { ApiKeyAuth, errorMiddleware, healthHandlers, methodGuard, requestContext, type Logger, type ServingMetrics } from '@predict/serving';
import express from 'express';
import { redactBoardQueue } from './board-redaction';
import type { Config } from './config';
import type { WorkerTier } from './worker-tier';

export interface AppDeps {
  config: Pick<Config, 'API_KEYS_ADMIN' | 'API_KEYS_PREDICT' | 'METRICS_REQUIRE_AUTH' | 'ACCESS_LOG'>;
  version: string;
  logger: Logger;
  metrics: ServingMetrics;
  tier: WorkerTier;
  startedAt: Date;
  isDraining(): boolean;
}

/**
 * The worker's own HTTP port: liveness, readiness (Redis reachable, every model loaded, Workers running, not
 * draining), Prometheus metrics and Bull-board at /admin/queues (admin scope: the core's API keys).
 */
export function createApp(deps: AppDeps): express.Express {
  const { config, logger, metrics, tier } = deps;
  const auth = new ApiKeyAuth({ predictKeys: config.API_KEYS_PREDICT, adminKeys: config.API_KEYS_ADMIN });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext({ logger, metrics, log: config.ACCESS_LOG, isDraining: deps.isDraining }));
  const health = healthHandlers({
    service: 'batch-worker',
    version: deps.version,
    startedAt: deps.startedAt,
    modelReady: () => tier.modelsLoaded,
    isDraining: deps.isDraining,
    model: () => undefined,
    checks: [
      { name: 'redis', critical: true, check: () => tier.data.ready },
      { name: 'workers', critical: true, check: () => tier.ready },
    ],
  });
  const routes = new Map<string, string[]>();
  const add = (path: string, ...handlers: express.RequestHandler[]) => {
    app.get(path, ...handlers);
    routes.set(path, ['GET']);
  };
  add('/health/live', health.live);
  add('/health/ready', health.ready);
  add('/health', health.summary);
  add('/metrics', ...(config.METRICS_REQUIRE_AUTH ? auth.require('any') : []), async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });

  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  // A sensitive queue's (iit-risk's) job data and return values are shown redacted (board-redaction.ts).
  createBullBoard({ queues: tier.queues.map((q) => (q.service.sensitive ? redactBoardQueue(new BullMQAdapter(q.queue)) : new BullMQAdapter(q.queue))), serverAdapter: board });
  app.use('/admin/queues', ...auth.require('admin'), board.getRouter() as express.Router);

  methodGuard(app, routes);
  app.use(errorMiddleware(logger));
  return app;
}
