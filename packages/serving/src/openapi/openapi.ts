import { z } from 'zod';
import type { AnyPredictor } from '../inference/predictor';

export const modelRefSchema = z.object({ name: z.string(), version: z.string() });

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
    request_id: z.string(),
  }),
});

/** The response schema of one prediction: the predictor's output plus the model that made it. */
export function withModel(output: z.ZodType) {
  return output instanceof z.ZodObject
    ? output.extend({ model: modelRefSchema })
    : z.intersection(output, z.object({ model: modelRefSchema }));
}

export function batchRequestSchema(predictor: AnyPredictor) {
  return z.object({
    instances: z.array(z.unknown()).min(1).max(predictor.maxBatchInstances, {
      message: `at most ${predictor.maxBatchInstances} instances per request`,
    }),
  });
}

type Schema = Record<string, unknown>;

/** An OpenAPI 3.0 Schema Object from a zod schema (zod 4 writes this dialect itself). */
const toSchema = (schema: z.ZodType, io: 'input' | 'output'): Schema => {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Schema;
  delete json['$schema'];
  return json;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ content: { 'application/json': { schema } } });

export type OpenApiDocument = Record<string, unknown>;

/** OpenAPI 3 document of a prediction service, generated from the predictor's zod schemas. */
export function buildOpenApi(
  predictor: AnyPredictor,
  info: { service: string; version: string; authEnabled: boolean },
): OpenApiDocument {
  const errors = (codes: number[]) =>
    Object.fromEntries(codes.map((c) => [String(c), { description: `error (${c})`, ...json(ref('Error')) }]));
  const security = info.authEnabled ? [{ ApiKey: [] }, { Bearer: [] }] : [];
  const reloadBody = z.object({ version: z.string().regex(/^\d+$/).optional() });
  const batchItem = { oneOf: [ref('Prediction'), { type: 'object', properties: { error: ref('ErrorDetail') }, required: ['error'] }] };

  const paths: Record<string, unknown> = {
    '/v1/predict': {
      post: {
        summary: predictor.description,
        security,
        requestBody: { required: true, ...json(ref('PredictRequest')) },
        responses: {
          200: { description: 'the prediction', ...json({ allOf: [ref('Prediction'), { type: 'object', properties: { model: ref('ModelRef') }, required: ['model'] }] }) },
          ...errors([400, 401, 403, 413, 415, 422, 503]),
        },
      },
    },
    '/v1/predict/batch': {
      post: {
        summary: `Up to ${predictor.maxBatchInstances} predictions, in order; an invalid instance is answered in place`,
        security,
        requestBody: {
          required: true,
          ...json({ type: 'object', properties: { instances: { type: 'array', items: ref('PredictRequest'), minItems: 1, maxItems: predictor.maxBatchInstances } }, required: ['instances'] }),
        },
        responses: {
          200: {
            description: 'one entry per instance: a prediction or its error',
            ...json({
              type: 'object',
              properties: { predictions: { type: 'array', items: batchItem }, model: ref('ModelRef'), succeeded: { type: 'integer' }, failed: { type: 'integer' } },
              required: ['predictions', 'model', 'succeeded', 'failed'],
            }),
          },
          ...errors([400, 401, 403, 413, 415, 503]),
        },
      },
    },
    '/v1/model': {
      get: { summary: 'The model card of the serving version', security, responses: { 200: { description: 'model card', ...json({ type: 'object' }) }, ...errors([401, 403, 503]) } },
    },
    '/admin/model/versions': {
      get: { summary: 'Model versions in the model directory, and the one serving (admin scope)', security, responses: { 200: { description: 'versions', ...json({ type: 'object' }) }, ...errors([401, 403]) } },
    },
    '/admin/model/reload': {
      post: {
        summary: 'Load a version (or the newest), check and warm it, then swap it in atomically (admin scope)',
        security,
        requestBody: { required: false, ...json(toSchema(reloadBody, 'input')) },
        responses: {
          200: { description: 'swapped', ...json({ type: 'object', properties: { previous: { ...ref('ModelRef'), nullable: true }, current: ref('ModelRef') } }) },
          ...errors([400, 401, 403, 422, 503]),
        },
      },
    },
  };
  for (const [path, summary] of [
    ['/health/live', 'Liveness: the process answers'],
    ['/health/ready', 'Readiness: a warmed model serves and the process is not draining (503 otherwise)'],
    ['/health', 'Health summary'],
    ['/metrics', 'Prometheus metrics'],
  ] as const) {
    paths[path] = { get: { summary, responses: { 200: { description: 'ok' }, 503: { description: 'not ready' } } } };
  }

  return {
    openapi: '3.0.3',
    info: { title: info.service, version: info.version, description: predictor.description },
    paths,
    components: {
      schemas: {
        PredictRequest: { ...toSchema(predictor.input, 'input'), example: predictor.example },
        Prediction: toSchema(predictor.output, 'output'),
        ModelRef: toSchema(modelRefSchema, 'output'),
        Error: toSchema(errorBodySchema, 'output'),
        ErrorDetail: toSchema(errorBodySchema.shape.error.omit({ request_id: true }), 'output'),
      },
      securitySchemes: {
        ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        Bearer: { type: 'http', scheme: 'bearer' },
      },
    },
  };
}
