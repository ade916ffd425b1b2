import { z } from 'zod';
import type { AnyPredictor } from '../inference/predictor';

/** The public wire schemas of the standard prediction routes, built from a predictor's own schemas. */
export const modelRefSchema = z.object({ name: z.string(), version: z.string() });

const errorDetailSchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.unknown().optional(),
  request_id: z.string(),
});

/** `POST /v1/predict`'s answer: the predictor's output plus the model that made it. */
export function predictionResponseSchema(predictor: AnyPredictor) {
  const output = predictor.output as z.ZodType;
  return output instanceof z.ZodObject ? output.extend({ model: modelRefSchema }) : z.intersection(output, z.object({ model: modelRefSchema }));
}

/** The batch envelope as validated: the instances are checked one by one afterwards, so each fails in place. */
export function batchEnvelopeSchema(predictor: AnyPredictor) {
  return z
    .object({
      instances: z.array(z.unknown()).min(1).max(predictor.maxBatchInstances, {
        message: `at most ${predictor.maxBatchInstances} instances per request`,
      }),
    })
    .strict();
}

/** The batch request as documented. */
export function batchRequestSchema(predictor: AnyPredictor) {
  return z.object({ instances: z.array(predictor.input as z.ZodType).min(1).max(predictor.maxBatchInstances) }).strict();
}

export function batchResponseSchema(predictor: AnyPredictor) {
  return z.object({
    predictions: z.array(z.union([predictor.output as z.ZodType, z.object({ error: errorDetailSchema })])),
    model: modelRefSchema,
    succeeded: z.number().int(),
    failed: z.number().int(),
  });
}

/** `POST /admin/model/reload`: one schema validates the body and documents it. */
export const reloadRequestSchema = z.object({ version: z.string().regex(/^\d+$/, 'must be a whole number').optional() }).strict();
export const reloadResponseSchema = z.object({ previous: modelRefSchema.nullable(), current: modelRefSchema });

/** `POST /admin/model/promote`. */
export const promoteRequestSchema = z
  .object({
    version: z.string().regex(/^\d+$/, 'must be a whole number').optional(),
    force: z.boolean().optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();
/** `POST /admin/model/rollback`. */
export const rollbackRequestSchema = z.object({ reason: z.string().max(500).optional() }).strict();
export const historyEntrySchema = z.object({
  at: z.string(),
  action: z.enum(['promote', 'rollback']),
  from: z.string().nullable(),
  to: z.string(),
  forced: z.boolean(),
  actor: z.string(),
  reason: z.string().optional(),
  gate: z
    .object({ metric: z.string(), direction: z.enum(['lower', 'higher']), candidate: z.number(), active: z.number().nullable(), rows: z.number(), evaluation_version: z.string() })
    .optional(),
});
