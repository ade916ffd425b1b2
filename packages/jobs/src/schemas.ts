import { z } from 'zod';

/** Most instances a job may carry inline in its payload; larger inputs go to Redis in chunks first. */
export const MAX_INLINE_INSTANCES = 10_000;
/** Default instances per chunk (input and results). */
export const DEFAULT_CHUNK_ROWS = 10_000;
/** Default lifetime of results and summary. */
export const DEFAULT_RESULTS_TTL_SECONDS = 86_400;
/** Per-row errors kept in a summary; the rest are counted (every one is in the results). */
export const SUMMARY_ERROR_CAP = 100;

const chunkRows = z.number().int().min(1).max(1_000_000);

/** Instances in the payload itself (small jobs). */
export const inlineInputSchema = z.object({
  kind: z.literal('inline'),
  instances: z.array(z.unknown()).min(1).max(MAX_INLINE_INSTANCES),
});

/**
 * A larger input already in Redis (what `POST /v1/jobs` streams into): chunk n is the string at `<key>:<n>`,
 * NDJSON with one instance per line; every chunk but the last holds exactly `chunk_rows` lines. The key must
 * start with `<prefix>:<queue>:` (same hash slot; the worker refuses others).
 */
export const chunkedInputSchema = z.object({
  kind: z.literal('chunks'),
  key: z.string().min(1),
  chunks: z.number().int().min(1),
  rows: z.number().int().min(1),
  chunk_rows: chunkRows,
});

/** A service-defined source the worker reads itself (images on a shared volume, every patient of a facility). */
export const sourceInputSchema = z.object({
  kind: z.literal('source'),
  source: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case name'),
  params: z.record(z.string(), z.unknown()).default({}),
});

export const jobInputSchema = z.discriminatedUnion('kind', [inlineInputSchema, chunkedInputSchema, sourceInputSchema]);
export type JobInput = z.input<typeof jobInputSchema>;

/** The JSON payload (BullMQ job `data`) of every job, whatever the queue. */
export const jobDataSchema = z.object({
  /** Wire-format version. */
  v: z.literal(1),
  input: jobInputSchema,
  /** Rows per results chunk for inline and source inputs (chunked inputs keep their own). */
  chunk_rows: chunkRows.default(DEFAULT_CHUNK_ROWS),
  results_ttl_seconds: z.number().int().min(1).max(90 * 86_400).default(DEFAULT_RESULTS_TTL_SECONDS),
  /** Who submitted it (an API key id, a service name): for the audit trail, never a secret. */
  submitted_by: z.string().max(200).optional(),
  request_id: z.string().max(200).optional(),
});
export type JobData = z.output<typeof jobDataSchema>;
export type JobDataInput = z.input<typeof jobDataSchema>;

/** BullMQ priorities: lower runs first. */
export const PRIORITIES = { high: 1, normal: 5, low: 10 } as const;
export type Priority = keyof typeof PRIORITIES;

/** How a job is enqueued (BullMQ job options). */
export const jobOptionsSchema = z.object({
  priority: z.enum(['high', 'normal', 'low']).default('normal'),
  /** Tries in all (transient failures are retried; an invalid payload never is). */
  attempts: z.number().int().min(1).max(20).default(3),
  backoff: z
    .object({ type: z.enum(['exponential', 'fixed']).default('exponential'), delay_ms: z.number().int().min(0).max(3_600_000).default(1000) })
    .default({ type: 'exponential', delay_ms: 1000 }),
});
export type JobOptions = z.input<typeof jobOptionsSchema>;

export const rowErrorSchema = z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() });

/** One line of the results: the instance's `index` in the input and its output, or its error. */
export const resultLineSchema = z.union([
  z.object({ index: z.number().int().min(0), output: z.record(z.string(), z.unknown()) }),
  z.object({ index: z.number().int().min(0), error: rowErrorSchema }),
]);
export type ResultLine = z.infer<typeof resultLineSchema>;

export const modelRefSchema = z.object({ name: z.string(), version: z.string() });

/** What a finished chunk records (hash `…:parts`, field = chunk number): the resume point and the summary's parts. */
export const chunkPartSchema = z.object({
  rows: z.number().int(),
  ok: z.number().int(),
  failed: z.number().int(),
  errors: z.array(rowErrorSchema.extend({ index: z.number().int() })),
  model: modelRefSchema,
  ms: z.number(),
});
export type ChunkPart = z.infer<typeof chunkPartSchema>;

/** A completed job's summary: its BullMQ return value, also kept at `…:summary` for the results' TTL. */
export const jobSummarySchema = z.object({
  job_id: z.string(),
  queue: z.string(),
  rows: z.number().int(),
  ok: z.number().int(),
  failed: z.number().int(),
  /** The first SUMMARY_ERROR_CAP row errors by index; `errors_total` counts them all. */
  errors: z.array(rowErrorSchema.extend({ index: z.number().int() })),
  errors_total: z.number().int(),
  /** The version that answered most rows; `models` lists every one (a reload mid-job). */
  model: modelRefSchema,
  models: z.array(modelRefSchema),
  chunks: z.number().int(),
  /** Results chunk n is at `<results_key>:<n>`. */
  results_key: z.string(),
  results_ttl_seconds: z.number().int(),
  timings: z.object({
    enqueued_at: z.string(),
    started_at: z.string(),
    finished_at: z.string(),
    queued_ms: z.number(),
    /** Time spent in chunks (summed over every attempt that finished one). */
    inference_ms: z.number(),
    total_ms: z.number(),
  }),
  attempts: z.number().int(),
});
export type JobSummary = z.infer<typeof jobSummarySchema>;

/** Progress (BullMQ `job.progress`). */
export const jobProgressSchema = z.object({ rows_done: z.number().int(), rows_total: z.number().int(), chunks_done: z.number().int(), chunks_total: z.number().int() });
export type JobProgress = z.infer<typeof jobProgressSchema>;
