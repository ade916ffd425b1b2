import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import swaggerUi from 'swagger-ui-express';
import { z } from 'zod';
import { ApiKeyAuth } from '../auth/api-keys';
import type { ServingEnv } from '../config/serving-config';
import { errorDetail, errorMiddleware } from '../errors/error-middleware';
import { HttpError } from '../errors/http-error';
import { ValidationError } from '../errors/validation-error';
import { parseOrThrow, zodIssues } from '../errors/zod-issues';
import { HEALTH_ROUTES, healthRoutes } from '../health/health';
import { jsonBody } from '../http/json-body';
import { methodGuard } from '../http/method-guard';
import { requestContext } from '../http/request-context';
import type { PredictorRuntime } from '../inference/predictor-runtime';
import type { ServiceState } from '../lifecycle/service-state';
import type { Logger } from '../logging/logger';
import type { ServingMetrics } from '../metrics/metrics';
import { batchRequestSchema, buildOpenApi } from '../openapi/openapi';

export type AppConfig = Pick<
  ServingEnv,
  | 'API_KEYS_PREDICT'
  | 'API_KEYS_ADMIN'
  | 'METRICS_REQUIRE_AUTH'
  | 'CORS_ORIGINS'
  | 'BODY_LIMIT_BYTES'
  | 'TRUST_PROXY'
  | 'DOCS_ENABLED'
  | 'ACCESS_LOG'
>;

export interface ServiceAppDeps<I, O, A> {
  service: string;
  version: string;
  config: AppConfig;
  logger: Logger;
  metrics: ServingMetrics;
  runtime: PredictorRuntime<I, O, A>;
  state: ServiceState;
}

const reloadSchema = z.object({ version: z.string().regex(/^\d+$/, 'must be a whole number').optional() }).strict();

/** `TRUST_PROXY` as Express takes it: true/false, a hop count, or addresses/subnets ('loopback'). */
function trustProxy(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}

/**
 * The Express app of a prediction service: health, metrics, OpenAPI, the prediction and admin routes, and the
 * one error shape. It never listens; tests drive it with supertest.
 */
export function createServiceApp<I, O, A>(deps: ServiceAppDeps<I, O, A>): Express {
  const { config, logger, metrics, runtime, state } = deps;
  const predictor = runtime.definition;
  const auth = new ApiKeyAuth({ predictKeys: config.API_KEYS_PREDICT, adminKeys: config.API_KEYS_ADMIN });
  const body = jsonBody(config.BODY_LIMIT_BYTES);
  const optionalBody = jsonBody(config.BODY_LIMIT_BYTES, { optional: true });
  const batchSchema = batchRequestSchema(predictor);

  const app = express();
  app.disable('x-powered-by');
  // Predictions are not cacheable resources: no ETag hashing of every response body.
  app.set('etag', false);
  app.set('trust proxy', trustProxy(config.TRUST_PROXY));
  app.use(requestContext({ logger, metrics, log: config.ACCESS_LOG, isDraining: () => state.draining }));
  if (config.CORS_ORIGINS.length > 0) {
    app.use(
      cors({
        origin: config.CORS_ORIGINS,
        methods: ['GET', 'POST'],
        allowedHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'X-Request-ID'],
        exposedHeaders: ['X-Request-ID', 'Retry-After'],
        maxAge: 600,
      }),
    );
  }

  // Every route is registered through `route`, which also records it for the 404/405 guard.
  const routes = new Map<string, string[]>(HEALTH_ROUTES as Map<string, string[]>);
  const route = (method: 'get' | 'post', path: string, ...handlers: RequestHandler[]) => {
    routes.set(path, [...(routes.get(path) ?? []), method.toUpperCase()]);
    app[method](path, ...handlers);
  };
  // Routes sit on the app itself, not a nested router: every layer costs each request a match attempt.
  healthRoutes(app, {
    service: deps.service,
    version: deps.version,
    startedAt: state.startedAt,
    isReady: () => runtime.ready && !state.draining,
    isDraining: () => state.draining,
    model: () => {
      if (!runtime.ready) return undefined;
      const m = runtime.model();
      return { name: m.name, version: m.version, loaded_at: m.loadedAt.toISOString(), sha256: m.sha256 };
    },
  });

  route('get', '/metrics', ...(config.METRICS_REQUIRE_AUTH ? auth.require('any') : []), async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });

  if (config.DOCS_ENABLED) {
    const doc = buildOpenApi(predictor, { service: deps.service, version: deps.version, authEnabled: auth.enabled });
    route('get', '/openapi.json', (_req, res) => {
      res.json(doc);
    });
    app.use('/docs', swaggerUi.serve, swaggerUi.setup(doc));
  }

  route('post', '/v1/predict', ...auth.require('predict'), ...body, async (req, res) => {
    const input = parseOrThrow(predictor.input, req.body);
    const { output, model } = await runtime.predict(input);
    res.json({ ...output, model });
  });

  route('post', '/v1/predict/batch', ...auth.require('predict'), ...body, async (req, res) => {
    const { instances } = parseOrThrow(batchSchema, req.body);
    const entries: unknown[] = new Array(instances.length);
    const valid: I[] = [];
    const at: number[] = [];
    instances.forEach((instance, i) => {
      const parsed = predictor.input.safeParse(instance);
      if (parsed.success) {
        valid.push(parsed.data);
        at.push(i);
      } else {
        const issues = zodIssues(parsed.error, ['instances', i]);
        entries[i] = { error: errorDetail(new ValidationError(issues)) };
      }
    });
    const { results, model } = valid.length > 0 ? await runtime.predictMany(valid) : { results: [], model: runtime.model() };
    results.forEach((result, k) => {
      entries[at[k] as number] = result.ok ? result.output : { error: errorDetail(result.error) };
    });
    const failed = entries.filter((e) => typeof e === 'object' && e !== null && 'error' in e).length;
    res.json({
      predictions: entries,
      model: { name: model.name, version: model.version },
      succeeded: entries.length - failed,
      failed,
    });
  });

  route('get', '/v1/model', ...auth.require('predict'), (_req, res) => {
    const m = runtime.model();
    res.json({ ...m.card, loaded_at: m.loadedAt.toISOString() });
  });

  route('get', '/admin/model/versions', ...auth.require('admin'), async (_req, res) => {
    const serving = runtime.ready ? runtime.model().version : null;
    res.json({ versions: await runtime.repository.versions(), serving });
  });

  route('post', '/admin/model/reload', ...auth.require('admin'), ...optionalBody, async (req, res) => {
    const { version } = parseOrThrow(reloadSchema, req.body ?? {});
    if (state.draining) throw new HttpError(503, 'draining', 'service is shutting down', { headers: { 'Retry-After': '1' } });
    const result = await runtime.reload(version);
    res.json({ previous: result.previous ?? null, current: result.current });
  });

  methodGuard(app, routes);
  app.use(errorMiddleware(logger));
  return app;
}
