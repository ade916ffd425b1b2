import path from 'node:path';
import sharp from 'sharp';
import { HttpError, definePredictor } from '@predict/serving';
import { normaliseInto, toRgb, type DecodeLimits } from './image';
import { classificationSchema, imageInputSchema, type Classification } from './schema';

export interface VehicleArtifacts {
  /** Class names in the order of the model's `probabilities` (the card's `classes`). */
  classes: readonly string[];
}

/** Every class, most probable first (the HTTP routes cut it to `top_k`). */
export function classify(probabilities: ArrayLike<number>, classes: readonly string[]): Classification {
  const ranked = classes.map((label, i) => ({ label, probability: Number(probabilities[i]) })).sort((a, b) => b.probability - a.probability);
  const top = ranked[0] ?? { label: '', probability: 0 };
  return { label: top.label, confidence: top.probability, top_k: ranked };
}

export interface ImageLimits extends DecodeLimits {
  /** Largest image file, in bytes (MAX_IMAGE_BYTES): a larger one is refused in place with a 413. */
  maxBytes: number;
}

/** The service's default limits (MAX_IMAGE_PIXELS, MAX_IMAGE_BYTES): the predictor module used without config gets these. */
export const DEFAULT_LIMITS: ImageLimits = { maxPixels: 25_000_000, maxBytes: 8 * 1024 * 1024 };

/**
 * vehicle-classifier: the vehicle type in a photo. Its input is `{image_base64}` or `{image: bytes}` (the
 * same for HTTP JSON, multipart uploads and batch jobs). `prepare` refuses files over `maxBytes` (413) and
 * decodes every image with sharp to 64×64 8-bit RGB (its own threads; a rejected image is refused in place with its 4xx),
 * `featurize` scales it into the batch row (src/image.ts `normaliseInto`: the values `toPixels` gives), `toOutput` ranks the classes.
 */
export function vehiclePredictor(given: Partial<ImageLimits> = {}) {
  const limits: ImageLimits = { ...DEFAULT_LIMITS, ...given };
  return definePredictor({
    name: 'vehicle-classifier',
    description: 'Vehicle type (bicycle, motorcycle, car, van, bus, truck) of the one vehicle in a photo',
    input: imageInputSchema,
    output: classificationSchema,
    // A generated picture (no file needed): grey with a dark box, encoded as the JPEG a client would send.
    warmup: async () => [
      await sharp({ create: { width: 640, height: 480, channels: 3, background: '#8899aa' } })
        .composite([{ input: { create: { width: 300, height: 120, channels: 3, background: '#303030' } }, left: 170, top: 220 }])
        .jpeg()
        .toBuffer(),
    ],
    maxBatchInstances: 16,
    defaultModelDir: path.resolve(__dirname, '../model'),
    loadArtifacts: async (_dir, card): Promise<VehicleArtifacts> => {
      const classes = (card as { classes?: unknown }).classes;
      if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) {
        throw new Error('model.json must list its `classes` (at least two names, in the order of `probabilities`)');
      }
      const width = card.outputs.find((o) => o.name === 'probabilities')?.shape[1];
      if (width !== classes.length) throw new Error(`model.json lists ${classes.length} classes but \`probabilities\` has ${width} columns`);
      return { classes: classes as string[] };
    },
    prepare: (inputs) =>
      Promise.all(inputs.map((bytes) => (bytes.length > limits.maxBytes ? Promise.resolve(tooLarge(bytes.length, limits.maxBytes)) : toRgb(bytes, limits).catch(rethrowUnlessHttp)))),
    // The 8-bit pixels are scaled straight into the batch row: the same values as toPixels, without a float copy per image.
    featurize: (rgb: Uint8Array, _artifacts, row) => {
      normaliseInto(rgb, row.float32('image'));
    },
    toOutput: (row, _pixels, { classes }) => classify(row['probabilities'] as Float32Array, classes),
  });
}

/** 413 for one image over MAX_IMAGE_BYTES (uploads are stopped earlier by the decoders; a job's row lands here). */
function tooLarge(bytes: number, maxBytes: number): HttpError {
  return new HttpError(413, 'payload_too_large', `image: ${bytes} bytes exceeds the limit of ${maxBytes} bytes (MAX_IMAGE_BYTES)`, { details: { limit_bytes: maxBytes, bytes } });
}

/** A refused image stays a per-image answer (its HttpError); anything else is a bug that fails the request. */
function rethrowUnlessHttp(error: unknown): HttpError {
  if (error instanceof HttpError && error.status < 500) return error;
  throw error;
}

/** The predictor with the default limits, for tools that load a predictor module (`predict-model`, the batch tier). */
export const vehicleClassifierPredictor = vehiclePredictor();
