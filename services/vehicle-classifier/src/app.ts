import type { Request, Response } from 'express';
import {
  createRedis,
  createServiceApp,
  type Logger,
  type RedisConnection,
  type ServiceParts,
  errorDetail,
  HttpError,
  jsonDecoder,
  multipartDecoder,
  parseOrThrow,
  PayloadTooLargeError,
  requestIdOf,
  type MultipartBody,
  type ReadinessCheck,
  type ServiceAppDeps,
} from '@predict/serving';
import type { Config } from './config';
import type { VehicleArtifacts } from './predictor';
import { ResultCache, imageDigest } from './result-cache';
import {
  MAX_BATCH_IMAGES,
  classifyBatchJsonSchema,
  classifyBatchResponseSchema,
  classifyJsonSchema,
  classifyResponseSchema,
  topKQuerySchema,
  type Classification,
  type ImageInput,
} from './schema';

export type AppDeps = ServiceAppDeps<ImageInput, Classification, VehicleArtifacts, Uint8Array>;
/** What the app reads of the service's configuration (config.ts). */
export type AppSettings = Pick<Config, 'MAX_IMAGE_BYTES' | 'RESULT_CACHE_TTL_SECONDS' | 'RESULT_CACHE_TIMEOUT_MS' | 'REDIS_URL' | 'REDIS_KEY_PREFIX'>;

/** One image's answer: its classification or the error refusing it. */
type Entry = { ok: true; value: Classification } | { ok: false; error: HttpError };

/**
 * The vehicle-classifier HTTP app: the platform's standard routes (health, metrics, OpenAPI, /v1/model, model
 * admin) and its own `POST /v1/classify` and `POST /v1/classify/batch`, which take `multipart/form-data`
 * uploads (field `image`) or JSON (`image_base64`), held in memory only. Never listens; main.ts does.
 */
export function createApp(deps: AppDeps, settings: AppSettings, redis?: RedisConnection) {
  const { runtime, logger, metrics, predictionLog } = deps;
  const cache = new ResultCache(redis, settings.RESULT_CACHE_TTL_SECONDS, metrics.registry, logger);
  const readiness: ReadinessCheck[] = redis ? [redis.readiness('result_cache')] : [];

  const maxBytes = settings.MAX_IMAGE_BYTES;
  // base64 is 4/3 of the bytes; a little room for the JSON around it.
  const json = jsonDecoder(Math.ceil((maxBytes * 4) / 3) + 64 * 1024);
  const multipart = (maxFiles: number) => multipartDecoder({ fileFields: ['image'], maxFiles, maxFileBytes: maxBytes });

  /** The top_k query parameter, 1 to the serving model's class count. */
  function topKOf(req: Request): number {
    const { top_k: k } = parseOrThrow(topKQuerySchema, req.query);
    const classes = runtime.model().artifacts.classes.length;
    if (k > classes) {
      throw new HttpError(400, 'validation_error', `top_k: at most ${classes} (the model's classes)`, {
        details: [{ path: 'top_k', message: `must be between 1 and ${classes}`, code: 'too_big' }],
      });
    }
    return k;
  }

  /** Image bytes from a JSON body's base64 (413 past MAX_IMAGE_BYTES once decoded). */
  function fromBase64(value: string): Buffer {
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length > maxBytes) throw new PayloadTooLargeError(maxBytes);
    return bytes;
  }

  /**
   * The images of a request, through the cache, then the model for the misses; one entry per image, in order.
   * Each image's sha256 is computed once, here, for both the cache key and the prediction log.
   */
  async function classifyAll(images: readonly Buffer[], known?: readonly string[]): Promise<{ entries: Entry[]; model: { name: string; version: string }; digests: readonly string[] }> {
    const version = runtime.model().version;
    const digests = known ?? (cache.enabled || predictionLog ? images.map(imageDigest) : []);
    const cached = await cache.getMany(version, digests);
    const missing = images.map((_, i) => i).filter((i) => cached[i] === undefined);
    const entries: Entry[] = cached.map((value) => (value ? { ok: true, value } : { ok: false, error: new HttpError(500, 'internal', 'not classified') }));
    if (missing.length === 0 && images.length > 0) return { entries, model: { name: runtime.model().name, version }, digests };
    const { results, model } = await runtime.predictMany(missing.map((i) => images[i] as Buffer));
    if (model.version !== version) {
      // The serving version changed between the lookup and the run: answer every image from the new one.
      return classifyAll(images, digests);
    }
    const fresh: { digest: string; value: Classification }[] = [];
    results.forEach((result, k) => {
      const i = missing[k] as number;
      entries[i] = result.ok ? { ok: true, value: result.output } : { ok: false, error: result.error };
      if (result.ok && cache.enabled) fresh.push({ digest: digests[i] as string, value: result.output });
    });
    cache.setMany(version, fresh);
    return { entries, model, digests };
  }

  const isMultipart = (req: Request) => req.is('multipart/form-data') === 'multipart/form-data';
  const cut = (c: Classification, k: number): Classification => ({ ...c, top_k: c.top_k.slice(0, k) });

  /** Logs each classified image by its digest and size, never its bytes. */
  function record(res: Response, images: readonly Buffer[], digests: readonly string[], entries: readonly Entry[], model: { name: string; version: string }, latencyMs: number): void {
    if (!predictionLog) return;
    const requestId = requestIdOf(res) ?? '';
    const at = Date.now();
    entries.forEach((entry, index) => {
      if (entry.ok) predictionLog.record({ requestId, ...(images.length > 1 ? { index } : {}), at, model, input: { image_sha256: digests[index], image_bytes: (images[index] as Buffer).length }, output: entry.value, latencyMs });
    });
  }

  return createServiceApp(deps, {
    predictPath: false,
    readiness,
    routes: (routes) => {
      routes.add({
        method: 'post',
        path: '/v1/classify',
        summary: `Vehicle type of the one vehicle in a JPEG, PNG or WebP photo: multipart field \`image\` (at most ${maxBytes} bytes) or JSON image_base64; ?top_k=1..classes (default 3)`,
        scope: 'predict',
        body: { decoders: [multipart(1), json], schema: classifyJsonSchema },
        responses: { 200: { description: 'the classification', schema: classifyResponseSchema } },
        errors: [413, 503],
        handler: async (req, res) => {
          const k = topKOf(req);
          let image: Buffer;
          if (isMultipart(req)) {
            const file = (req.body as MultipartBody).files[0];
            if (!file) throw new HttpError(400, 'validation_error', 'image: a file is required in the multipart field `image`', { details: [{ path: 'image', message: 'required', code: 'invalid_type' }] });
            image = file.data;
          } else image = fromBase64(parseOrThrow(classifyJsonSchema, req.body).image_base64);
          const started = performance.now();
          const { entries, model, digests } = await classifyAll([image]);
          const entry = entries[0] as Entry;
          if (!entry.ok) throw entry.error;
          res.json({ ...cut(entry.value, k), model });
          record(res, [image], digests, entries, model, performance.now() - started);
        },
      });
      routes.add({
        method: 'post',
        path: '/v1/classify/batch',
        summary: `Up to ${MAX_BATCH_IMAGES} images in one request (multipart: the field \`image\` repeated; JSON: instances of image_base64), answered in order; a bad image is answered in place`,
        scope: 'predict',
        body: { decoders: [multipart(MAX_BATCH_IMAGES), json], schema: classifyBatchJsonSchema },
        responses: { 200: { description: 'one entry per image: a classification or its error', schema: classifyBatchResponseSchema } },
        errors: [413, 503],
        handler: async (req, res) => {
          const k = topKOf(req);
          let images: Buffer[];
          if (isMultipart(req)) {
            images = (req.body as MultipartBody).files.map((f) => f.data);
            if (images.length === 0) throw new HttpError(400, 'validation_error', 'image: at least one file is required in the multipart field `image`', { details: [{ path: 'image', message: 'required', code: 'invalid_type' }] });
          } else images = parseOrThrow(classifyBatchJsonSchema, req.body).instances.map((i) => fromBase64(i.image_base64));
          const started = performance.now();
          const { entries, model, digests } = await classifyAll(images);
          const requestId = requestIdOf(res);
          const predictions = entries.map((e) => (e.ok ? cut(e.value, k) : { error: { ...errorDetail(e.error), request_id: requestId } }));
          const succeeded = entries.filter((e) => e.ok).length;
          res.json({ predictions, model, succeeded, failed: entries.length - succeeded });
          record(res, images, digests, entries, model, performance.now() - started);
        },
      });
    },
  });
}

/**
 * What vehicle-classifier owns besides the model: the result cache's Redis connection (when REDIS_URL is set
 * and RESULT_CACHE_TTL_SECONDS > 0), started with the service and quit after the HTTP drain, and the app that
 * uses it. main.ts and the tests wire it the same way (runService / startTestService `parts`).
 */
export function vehicleParts(settings: AppSettings) {
  return ({ logger }: { logger: Logger }): ServiceParts<ImageInput, Classification, VehicleArtifacts, Uint8Array> => {
    const redis =
      settings.REDIS_URL !== undefined && settings.RESULT_CACHE_TTL_SECONDS > 0
        ? createRedis({ REDIS_URL: settings.REDIS_URL, REDIS_KEY_PREFIX: settings.REDIS_KEY_PREFIX }, logger, {
            role: 'result-cache',
            service: 'vehicle-classifier',
            commandTimeoutMs: settings.RESULT_CACHE_TIMEOUT_MS,
          })
        : undefined;
    return {
      createApp: (deps) => createApp(deps, settings, redis),
      ...(redis ? { start: () => redis.start(), stopSteps: [{ name: 'quit the result-cache Redis', run: () => redis.stop(1000) }] } : {}),
    };
  };
}
