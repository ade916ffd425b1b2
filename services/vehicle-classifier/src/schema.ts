import { z } from 'zod';

/** Most images one POST /v1/classify/batch takes (multipart files or JSON instances). */
export const MAX_BATCH_IMAGES = 16;
/** `top_k` when the query does not say. */
export const DEFAULT_TOP_K = 3;

/**
 * One instance as the predictor takes it: the image bytes (multipart uploads arrive as bytes) or, in JSON and
 * in golden/evaluation files, `image_base64`. Either way the predictor sees bytes.
 */
export const imageInputSchema = z
  .union([z.object({ image: z.instanceof(Uint8Array) }).strict(), z.object({ image_base64: z.base64() }).strict()])
  .transform((i): Uint8Array => ('image' in i ? i.image : Buffer.from(i.image_base64, 'base64')));
export type ImageInput = z.output<typeof imageInputSchema>;

/** `POST /v1/classify` as JSON. */
export const classifyJsonSchema = z.object({ image_base64: z.base64().describe('the image file (JPEG, PNG or WebP), base64-encoded') }).strict();
/** `POST /v1/classify/batch` as JSON. */
export const classifyBatchJsonSchema = z
  .object({ instances: z.array(classifyJsonSchema).min(1).max(MAX_BATCH_IMAGES) })
  .strict();

/** `?top_k=`: how many classes, most probable first (1 to the model's class count). */
export const topKQuerySchema = z.object({ top_k: z.coerce.number().int().min(1).max(64).default(DEFAULT_TOP_K) }).strict();

const scored = z.object({ label: z.string(), probability: z.number().min(0).max(1) });

/** One classification (the service adds `model`): the top class and the `top_k` most probable. */
export const classificationSchema = z.object({
  label: z.string().describe('the most probable vehicle type'),
  confidence: z.number().min(0).max(1).describe("the top class's probability"),
  top_k: z.array(scored).describe('classes by decreasing probability'),
});
export type Classification = z.output<typeof classificationSchema>;

export const modelRefSchema = z.object({ name: z.string(), version: z.string() });

export const classifyResponseSchema = classificationSchema.extend({ model: modelRefSchema });

const errorEntry = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional(), request_id: z.string() }) });
export const classifyBatchResponseSchema = z.object({
  predictions: z.array(z.union([classificationSchema, errorEntry])).describe('one entry per image, in order: a classification or its error'),
  model: modelRefSchema,
  succeeded: z.number().int(),
  failed: z.number().int(),
});
