import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { AnyPredictor } from '../inference/predictor';

export const modelRefSchema = z.object({ name: z.string(), version: z.string() }).meta({ id: 'ModelRef' });

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'validation_error' }),
      message: z.string(),
      details: z.unknown().optional(),
      request_id: z.string(),
    }),
  })
  .meta({ id: 'Error' });

/** The response schema of one prediction: the predictor's output plus the model that made it. */
export function withModel(output: z.ZodType) {
  return output instanceof z.ZodObject ? output.extend({ model: modelRefSchema }) : z.intersection(output, z.object({ model: modelRefSchema }));
}

export function batchRequestSchema(predictor: AnyPredictor) {
  return z.object({
    instances: z.array(z.unknown()).min(1).max(predictor.maxBatchInstances, {
      message: `at most ${predictor.maxBatchInstances} instances per request`,
    }),
  });
}

const errorSchema = errorBodySchema.shape.error.omit({ request_id: true });

export type OpenApiDocument = ReturnType<OpenApiGeneratorV3['generateDocument']>;

/** OpenAPI 3 document of a prediction service, generated from the predictor's zod schemas. */
export function buildOpenApi(
  predictor: AnyPredictor,
  info: { service: string; version: string; authEnabled: boolean },
): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  const input = registry.register('PredictRequest', predictor.input);
  const output = registry.register('Prediction', predictor.output);
  const response = registry.register('PredictResponse', withModel(output));
  const error = registry.register('Error', errorBodySchema);
  const batchItem = z.union([output, z.object({ error: errorSchema })]);
  const batchRequest = registry.register(
    'BatchPredictRequest',
    z.object({ instances: z.array(input).min(1).max(predictor.maxBatchInstances) }),
  );
  const batchResponse = registry.register(
    'BatchPredictResponse',
    z.object({
      predictions: z.array(batchItem).meta({ description: 'One entry per instance, in order: a prediction or its error.' }),
      model: modelRefSchema,
      succeeded: z.number().int(),
      failed: z.number().int(),
    }),
  );
  const apiKeyAuth = registry.registerComponent('securitySchemes', 'ApiKey', { type: 'apiKey', in: 'header', name: 'X-API-Key' });
  const bearerAuth = registry.registerComponent('securitySchemes', 'Bearer', { type: 'http', scheme: 'bearer' });
  const security = info.authEnabled ? [{ [apiKeyAuth.name]: [] }, { [bearerAuth.name]: [] }] : [];
  const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
  const errors = (codes: number[]) =>
    Object.fromEntries(codes.map((c) => [String(c), { description: `error (${c})`, ...json(error) }]));

  registry.registerPath({
    method: 'post',
    path: '/v1/predict',
    summary: predictor.description,
    security,
    request: { body: { ...json(input), required: true } },
    responses: { 200: { description: 'the prediction', ...json(response) }, ...errors([400, 401, 403, 413, 415, 422, 503]) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/predict/batch',
    summary: `Up to ${predictor.maxBatchInstances} predictions in order; an invalid instance is answered in place.`,
    security,
    request: { body: { ...json(batchRequest), required: true } },
    responses: { 200: { description: 'one entry per instance', ...json(batchResponse) }, ...errors([400, 401, 403, 413, 415, 503]) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/model',
    summary: 'The model card of the serving version',
    security,
    responses: { 200: { description: 'model card', ...json(z.record(z.string(), z.unknown())) }, ...errors([401, 403, 503]) },
  });
  registry.registerPath({
    method: 'post',
    path: '/admin/model/reload',
    summary: 'Load a model version (or the newest), check and warm it, then swap it in atomically (admin scope)',
    security,
    request: { body: { ...json(z.object({ version: z.string().regex(/^\d+$/).optional() })), required: false } },
    responses: {
      200: { description: 'swapped', ...json(z.object({ previous: modelRefSchema.nullable(), current: modelRefSchema })) },
      ...errors([400, 401, 403, 422, 503]),
    },
  });
  for (const [path, summary] of [
    ['/health/live', 'Liveness: the process answers'],
    ['/health/ready', 'Readiness: a warmed model serves and the process is not draining (503 otherwise)'],
    ['/health', 'Health summary'],
    ['/metrics', 'Prometheus metrics'],
  ] as const) {
    registry.registerPath({ method: 'get', path, summary, responses: { 200: { description: 'ok' } } });
  }
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: info.service, version: info.version, description: predictor.description },
  });
}
