import cors from 'cors';
import express, { type Express, type Response } from 'express';
import swaggerUi from 'swagger-ui-express';
import { z } from 'zod';
import { ApiKeyAuth, callerOf } from '../auth/api-keys';
import type { ServingEnv } from '../config/serving-config';
import { errorDetail, errorMiddleware } from '../errors/error-middleware';
import { HttpError } from '../errors/http-error';
import { ValidationError } from '../errors/validation-error';
import { parseOrThrow, zodIssues } from '../errors/zod-issues';
import { healthHandlers, type ReadinessCheck } from '../health/health';
import { jsonDecoder } from '../http/json-decoder';
import { sendJson } from '../http/send-json';
import { requestContext, requestIdOf } from '../http/request-context';
import { disableConditionalGet } from '../http/conditional-get';
import type { ModelRef, PredictorRuntime } from '../inference/predictor-runtime';
import type { HistoryEntry } from '../inference/model-state';
import type { JobsParts } from '../jobs/create-jobs';
import { jobRoutes } from '../jobs/job-routes';
import { ModelPromoter } from '../inference/promotion';
import type { ServiceState } from '../lifecycle/service-state';
import type { Logger } from '../logging/logger';
import type { ServingMetrics } from '../metrics/metrics';
import type { PredictionLogStore } from '../prediction-log/prediction-log';
import { predictionLogRoute } from '../prediction-log/prediction-log-route';
import type { RedisConnection } from '../redis/create-redis';
import {
  historyEntrySchema,
  promoteRequestSchema,
  rollbackRequestSchema,
  batchEnvelopeSchema,
  batchRequestSchema,
  batchResponseSchema,
  predictionResponseSchema,
  reloadRequestSchema,
  reloadResponseSchema,
} from './prediction-schemas';
import { RouteTable } from './route-table';

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

export interface ServiceAppDeps<I, O, A, P = I> {
  service: string;
  version: string;
  config: AppConfig;
  logger: Logger;
  metrics: ServingMetrics;
  runtime: PredictorRuntime<I, O, A, P>;
  state: ServiceState;
  /** PREDICTION_LOG=on: each answered prediction is recorded; absent, nothing is (and /admin/predictions answers 404). */
  predictionLog?: PredictionLogStore;
  /** The process's Redis connection, if any: /health shows it (`redis`: ok or degraded); readiness never waits on it. */
  redis?: RedisConnection;
  /** Batch jobs (REDIS_URL set, JOBS=on): the /v1/jobs routes enqueue here; absent, they answer 503. */
  jobs?: JobsParts;
}

/** A request's answered predictions, before they are sent: `index` is the instance's place in the request. */
export interface AnsweredPredictions<I, O> {
  res: Response;
  requestId: string;
  model: ModelRef;
  predictions: { index: number; input: I; output: O }[];
}

/** What a service adds to the standard app: its own routes (documented like the rest) and readiness checks. */
export interface ServiceAppExtensions<I = unknown, O = unknown> {
  /**
   * Awaited once a request's predictions are made and before they are answered (single and batch routes,
   * only when at least one instance succeeded); throwing an HttpError answers that instead (e.g. 503 when an
   * audit record cannot be written).
   */
  onPredictions?(answered: AnsweredPredictions<I, O>): Promise<void>;
  /** Called with the route table after the standard routes, before the 404/405 guard. */
  routes?(routes: RouteTable, helpers: { json: ReturnType<typeof jsonDecoder> }): void;
  readiness?: readonly ReadinessCheck[];
  /**
   * Path of the one-instance prediction route (`/v1/predict`); the batch route is this + `/batch`. `false`: no
   * standard JSON prediction routes; the service registers its own in `routes` (an image service's uploads).
   */
  predictPath?: string | false;
}

/** `TRUST_PROXY` as Express takes it: true/false, a hop count, or addresses/subnets ('loopback'). */
function trustProxy(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}

/**
 * The Express app of a prediction service: health, metrics, OpenAPI, the prediction and admin routes, a
 * service's own routes, and the one error shape. It never listens; tests drive it with supertest.
 */
export function createServiceApp<I, O, A, P>(deps: ServiceAppDeps<I, O, A, P>, extensions: ServiceAppExtensions<I, O> = {}): Express {
  const { config, logger, metrics, runtime, state, predictionLog } = deps;
  const predictor = runtime.definition;
  const auth = new ApiKeyAuth({ predictKeys: config.API_KEYS_PREDICT, adminKeys: config.API_KEYS_ADMIN });
  const json = jsonDecoder(config.BODY_LIMIT_BYTES);
  const envelope = batchEnvelopeSchema(predictor);

  const app = express();
  app.disable('x-powered-by');
  // Predictions are not cacheable resources: no ETag hashing of every response body.
  app.set('etag', false);
  disableConditionalGet(app);
  app.set('trust proxy', trustProxy(config.TRUST_PROXY));
  app.use(requestContext({ logger, metrics, log: config.ACCESS_LOG, isDraining: () => state.draining }));
  if (config.CORS_ORIGINS.length > 0) {
    app.use(
      cors({
        origin: config.CORS_ORIGINS,
        methods: ['GET', 'POST', 'PUT', 'DELETE'],
        allowedHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'X-Request-ID', 'Idempotency-Key'],
        exposedHeaders: ['X-Request-ID', 'Retry-After'],
        maxAge: 600,
      }),
    );
  }

  const routes = new RouteTable(app, auth, config.METRICS_REQUIRE_AUTH);
  const health = healthHandlers({
    service: deps.service,
    version: deps.version,
    startedAt: state.startedAt,
    modelReady: () => runtime.ready,
    isDraining: () => state.draining,
    model: () => {
      if (!runtime.ready) return undefined;
      const m = runtime.model();
      return { name: m.name, version: m.version, loaded_at: m.loadedAt.toISOString(), sha256: m.sha256 };
    },
    checks: [...(deps.redis ? [deps.redis.readiness()] : []), ...(deps.jobs ? [deps.jobs.readiness] : []), ...(extensions.readiness ?? [])],
  });
  const ok = { description: 'ok' };
  routes
    .add({ method: 'get', path: '/health/live', summary: 'Liveness: the process answers', scope: 'open', responses: { 200: ok }, handler: health.live })
    .add({
      method: 'get',
      path: '/health/ready',
      summary: 'Readiness: a warmed model serves, critical dependencies answer, not draining (503 otherwise)',
      scope: 'open',
      responses: { 200: ok, 503: { description: 'not ready' } },
      handler: health.ready,
    })
    .add({ method: 'get', path: '/health', summary: 'Health summary, with each dependency', scope: 'open', responses: { 200: ok, 503: { description: 'not ready' } }, handler: health.summary })
    .add({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      scope: 'metrics',
      responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain', schema: { type: 'string' } } },
      handler: async (_req, res) => {
        res.setHeader('Content-Type', metrics.registry.contentType);
        res.end(await metrics.registry.metrics());
      },
    });

  const predictPath = extensions.predictPath || '/v1/predict';
  // predictPath false: the two standard prediction routes are not registered (their arguments not even built).
  const predictionRoutes = extensions.predictPath === false ? undefined : routes;
  predictionRoutes?.add({
    method: 'post',
    path: predictPath,
    summary: predictor.description,
    scope: 'predict',
    body: { decoders: [json], schema: predictor.input as z.ZodType, example: predictor.example },
    responses: { 200: { description: 'the prediction', schema: predictionResponseSchema(predictor) } },
    errors: [422, 503],
    handler: async (req, res) => {
      const input = parseOrThrow(predictor.input, req.body);
      const started = predictionLog ? performance.now() : 0;
      const { output, model } = await runtime.predict(input);
      const latencyMs = predictionLog ? performance.now() - started : 0;
      await extensions.onPredictions?.({ res, requestId: requestIdOf(res) ?? '', model, predictions: [{ index: 0, input, output }] });
      sendJson(res, { ...output, model });
      // After the answer is sent; with the log off nothing is built (the ?. skips the argument too).
      predictionLog?.record({ requestId: requestIdOf(res) ?? '', at: Date.now(), model, input, output, latencyMs });
    },
  });
  predictionRoutes?.add({
    method: 'post',
    path: `${predictPath}/batch`,
    summary: `Up to ${predictor.maxBatchInstances} predictions, in order; an invalid instance is answered in place`,
    scope: 'predict',
    body: { decoders: [json], schema: batchRequestSchema(predictor) },
    responses: { 200: { description: 'one entry per instance: a prediction or its error', schema: batchResponseSchema(predictor) } },
    errors: [503],
    handler: async (req, res) => {
      const { instances } = parseOrThrow(envelope, req.body);
      const requestId = requestIdOf(res);
      const entries: unknown[] = new Array(instances.length);
      const valid: I[] = [];
      const at: number[] = [];
      const failure = (error: HttpError) => ({ error: { ...errorDetail(error), request_id: requestId } });
      instances.forEach((instance, i) => {
        const parsed = predictor.input.safeParse(instance);
        if (parsed.success) {
          valid.push(parsed.data);
          at.push(i);
        } else entries[i] = failure(new ValidationError(zodIssues(parsed.error, ['instances', i])));
      });
      const started = predictionLog ? performance.now() : 0;
      const { results, model } = valid.length > 0 ? await runtime.predictMany(valid) : { results: [], model: runtime.model() };
      const latencyMs = predictionLog ? performance.now() - started : 0;
      results.forEach((result, k) => {
        entries[at[k] as number] = result.ok ? result.output : failure(result.error);
      });
      const failed = instances.length - results.filter((r) => r.ok).length;
      if (extensions.onPredictions && failed < instances.length) {
        const predictions = results.flatMap((result, k) => (result.ok ? [{ index: at[k] as number, input: valid[k] as I, output: result.output }] : []));
        await extensions.onPredictions({ res, requestId: requestId ?? '', model, predictions });
      }
      sendJson(res, { predictions: entries, model: { name: model.name, version: model.version }, succeeded: instances.length - failed, failed });
      if (predictionLog) {
        // One entry per answered instance, after the answer is sent; `index` is its place in the request.
        const time = Date.now();
        const ref = { name: model.name, version: model.version };
        results.forEach((result, k) => {
          if (result.ok) predictionLog.record({ requestId: requestId ?? '', index: at[k] as number, at: time, model: ref, input: valid[k], output: result.output, latencyMs });
        });
      }
    },
  });


  routes.add({
    method: 'get',
    path: '/v1/model',
    summary: 'The model card of the serving version',
    scope: 'predict',
    responses: { 200: { description: 'model card', schema: { type: 'object', additionalProperties: true } } },
    errors: [503],
    handler: (_req, res) => {
      const m = runtime.model();
      res.json({ ...m.card, loaded_at: m.loadedAt.toISOString() });
    },
  });
  const promoter = new ModelPromoter(predictor, runtime.settings);
  const actor = (res: Response) => callerOf(res) ?? 'anonymous';
  routes.add({
    method: 'get',
    path: '/admin/model/versions',
    summary: 'Model versions, the active pointer, candidates, the one serving here, and the promotion history (admin scope)',
    scope: 'admin',
    responses: {
      200: {
        description: 'versions',
        schema: z.object({ versions: z.array(z.string()), active: z.string().nullable(), serving: z.string().nullable(), history: z.array(historyEntrySchema) }),
      },
    },
    handler: async (_req, res) => {
      const serving = runtime.ready ? runtime.model().version : null;
      res.json({
        versions: await runtime.repository.versions(),
        active: (await runtime.state.active()) ?? null,
        serving,
        history: (await runtime.state.history()).slice(-50),
      });
    },
  });
  // Promote and rollback move the shared `active` pointer; this replica then loads its version at once
  // (the others follow the pointer), and the answer is the history entry.
  const movePointer = <S extends z.ZodType>(path: string, summary: string, schema: S, errors: number[], move: (body: z.output<S>, actor: string) => Promise<HistoryEntry>) =>
    routes.add({
      method: 'post',
      path,
      summary,
      scope: 'admin',
      body: { decoders: [json], schema, optional: true },
      responses: { 200: { description: 'the history entry', schema: historyEntrySchema } },
      errors,
      handler: async (req, res) => {
        const entry = await move(parseOrThrow(schema, req.body ?? {}), actor(res));
        await runtime.reload(entry.to);
        res.json(entry);
      },
    });
  movePointer(
    '/admin/model/promote',
    'Make a candidate active if its gate metric, scored with the active version on the same evaluation set, is no worse (or force); every replica follows (admin scope)',
    promoteRequestSchema,
    [404, 409, 422, 503],
    (body, by) => promoter.promote({ ...body, actor: by }),
  );
  movePointer(
    '/admin/model/rollback',
    'Point the active version back at the one the last promotion replaced; every replica follows (admin scope)',
    rollbackRequestSchema,
    [409, 422, 503],
    (body, by) => promoter.rollback({ ...body, actor: by }),
  );
  routes.add({
    method: 'post',
    path: '/admin/model/reload',
    summary: 'Load a version (or the active one), check and warm it, then swap it in atomically, on this replica only (admin scope)',
    scope: 'admin',
    body: { decoders: [json], schema: reloadRequestSchema, optional: true },
    responses: { 200: { description: 'swapped', schema: reloadResponseSchema } },
    errors: [422, 503],
    handler: async (req, res) => {
      const { version } = parseOrThrow(reloadRequestSchema, req.body ?? {});
      if (state.draining) throw new HttpError(503, 'draining', 'service is shutting down', { headers: { 'Retry-After': '1' } });
      const result = await runtime.reload(version);
      res.json({ previous: result.previous ?? null, current: result.current });
    },
  });

  routes.add(predictionLogRoute(predictionLog));
  // Batch jobs on every service: /v1/jobs, /v1/jobs/:id, /v1/jobs/:id/results (queue = the service's name).
  for (const route of jobRoutes(deps.service, predictor, deps.jobs)) routes.add(route);

  extensions.routes?.(routes, { json });

  if (config.DOCS_ENABLED) {
    let doc: Record<string, unknown> = {};
    routes.add({
      method: 'get',
      path: '/openapi.json',
      summary: 'This document',
      scope: 'open',
      responses: { 200: { description: 'OpenAPI 3.0 document', schema: { type: 'object' } } },
      handler: (_req, res) => {
        res.json(doc);
      },
    });
    // Built once every route is registered, from the same specs that registered them.
    doc = routes.openapi({ title: deps.service, version: deps.version, description: predictor.description });
    app.use('/docs', swaggerUi.serve, swaggerUi.setup(doc));
  }

  routes.close();
  app.use(errorMiddleware(logger));
  return app;
}
