import {
  SUMMARY_ERROR_CAP,
  cancelKey,
  chunkPartSchema,
  jobDataSchema,
  resultChunkKey,
  resultPartsKey,
  resultsBaseKey,
  summaryKey,
  type ChunkPart,
  type JobData,
  type JobProgress,
  type JobSummary,
} from '@predict/jobs';
import { HttpError, errorDetail, type JobSource, type Logger, type PredictorRuntime, type QueueParts } from '@predict/serving';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WorkerMetrics } from './worker-metrics';

/** Why a job failed, as the failures metric labels it (a small fixed set). */
export type FailureReason = 'invalid_payload' | 'input_missing' | 'cancelled' | 'error';

/** An UnrecoverableError that carries its metric label. */
export class JobRefusedError extends UnrecoverableError {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

export interface ProcessorDeps {
  queue: string;
  prefix: string;
  /** A connection that waits through outages (maxRetriesPerRequest: null), for the job's input and results. */
  redis: Redis;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any service's predictor
  runtime: PredictorRuntime<any, any, any, any>;
  sources?: Readonly<Record<string, JobSource>>;
  /** Most rows per chunk of an inline or source input, whatever the job asks (QueueService.maxChunkRows). */
  maxChunkRows?: number;
  /** The queue's audit / output hook (QueueParts.afterChunk): runs before each chunk's results are written. */
  afterChunk?: QueueParts['afterChunk'];
  metrics?: WorkerMetrics;
  logger: Logger;
  /** True once the process is draining (SIGTERM): the job goes back to wait after its current chunk. */
  isStopping?(): boolean;
}

interface Plan {
  rows: number;
  chunks: number;
  chunkRows: number;
  load(chunk: number): Promise<unknown[]>;
  cleanup(): Promise<void>;
}

type RowError = ReturnType<typeof errorDetail>;

/** Parses NDJSON lines; a line that is not JSON becomes a row error instead of failing the chunk. */
function parseLines(text: string, base: number): { rows: unknown[]; bad: Map<number, RowError> } {
  const lines = text.split('\n');
  const rows: unknown[] = new Array(lines.length);
  const bad = new Map<number, RowError>();
  for (let i = 0; i < lines.length; i++) {
    try {
      rows[i] = JSON.parse(lines[i] as string);
    } catch (error) {
      bad.set(i, { code: 'invalid_json', message: `instance ${base + i} is not valid JSON: ${(error as Error).message}` });
      rows[i] = null;
    }
  }
  return { rows, bad };
}

/** A source's rows: an HttpError entry (4xx) is that row's answer; the model gets the rest. */
function sourceRows(loaded: unknown[]): { rows: unknown[]; bad: Map<number, RowError> } {
  const bad = new Map<number, RowError>();
  const rows = loaded.map((row, i) => {
    if (!(row instanceof HttpError)) return row;
    if (row.status >= 500) throw row;
    bad.set(i, errorDetail(row));
    return null;
  });
  return { rows, bad };
}

/**
 * The BullMQ processor of one queue. Works through a job's input chunk by chunk, each through the core's
 * chunk API (predictChunk: validation per row, inference off the event loop in worker mode), and writes each
 * chunk's results and its part of the summary in one MULTI, keyed by job id + chunk: a retried or taken-over
 * job skips the chunks already written and overwrites (never duplicates) the one it was in.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { queue, prefix, redis, runtime } = deps;

  async function plan(data: JobData, jobId: string): Promise<Plan> {
    const input = data.input;
    // Inline and source inputs are cut at the job's chunk_rows, capped by the service's (memory) bound.
    const chunkRows = Math.min(data.chunk_rows, deps.maxChunkRows ?? Infinity);
    switch (input.kind) {
      case 'inline': {
        return {
          rows: input.instances.length,
          chunks: Math.ceil(input.instances.length / chunkRows),
          chunkRows,
          load: async (n) => input.instances.slice(n * chunkRows, (n + 1) * chunkRows),
          cleanup: async () => undefined,
        };
      }
      case 'chunks': {
        if (!input.key.startsWith(`${prefix}:${queue}:`)) throw new JobRefusedError('invalid_payload', `input.key must start with '${prefix}:${queue}:'`);
        if (input.rows > input.chunks * input.chunk_rows || input.rows <= (input.chunks - 1) * input.chunk_rows) {
          throw new JobRefusedError('invalid_payload', `input.rows (${input.rows}) does not fit ${input.chunks} chunks of ${input.chunk_rows}`);
        }
        const { key } = input;
        return {
          rows: input.rows,
          chunks: input.chunks,
          chunkRows: input.chunk_rows,
          load: async (n) => {
            const text = await redis.get(`${key}:${n}`);
            if (text === null) throw new JobRefusedError('input_missing', `input chunk ${n} (${key}:${n}) is missing: expired or deleted`);
            return [text];
          },
          cleanup: async () => {
            for (let n = 0; n < input.chunks; n += 1000) {
              await redis.del(...Array.from({ length: Math.min(1000, input.chunks - n) }, (_, k) => `${key}:${n + k}`));
            }
          },
        };
      }
      case 'source': {
        const source = deps.sources?.[input.source];
        if (!source) throw new JobRefusedError('invalid_payload', `queue '${queue}' has no source '${input.source}'`);
        const ctx = { jobId, ttlSeconds: data.results_ttl_seconds };
        let rows: number;
        try {
          rows = await source.count(input.params, ctx);
        } catch (error) {
          if (error instanceof HttpError && error.status < 500) throw new JobRefusedError('invalid_payload', `source '${input.source}': ${error.message}`);
          throw error;
        }
        return {
          rows,
          chunks: Math.ceil(rows / chunkRows),
          chunkRows,
          load: (n) => source.read(input.params, n * chunkRows, Math.min(rows, (n + 1) * chunkRows), ctx),
          cleanup: async () => undefined,
        };
      }
    }
  }

  return async function process(job: Job, token?: string): Promise<JobSummary> {
    const startedAt = Date.now();
    const parsed = jobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`);
      throw new JobRefusedError('invalid_payload', `invalid job payload: ${issues.slice(0, 10).join('; ')}`);
    }
    const data = parsed.data;
    const jobId = job.id as string;
    const ttl = data.results_ttl_seconds;
    const partsKey = resultPartsKey(prefix, queue, jobId);
    const work = await plan(data, jobId);
    const logger = deps.logger.child({ queue, job_id: jobId });

    // The resume point: chunks another attempt (or a worker that died) already finished.
    const parts = new Map<number, ChunkPart>();
    for (const [field, value] of Object.entries(await redis.hgetall(partsKey))) parts.set(Number(field), chunkPartSchema.parse(JSON.parse(value)));
    logger.info('job started', { rows: work.rows, chunks: work.chunks, attempt: job.attemptsMade + 1 });
    if (parts.size > 0) logger.info('resuming job', { chunks_done: parts.size, chunks: work.chunks });

    const progress = (): JobProgress => {
      let rowsDone = 0;
      for (const p of parts.values()) rowsDone += p.rows;
      return { rows_done: rowsDone, rows_total: work.rows, chunks_done: parts.size, chunks_total: work.chunks };
    };

    // A pipeline: the next chunk's input is read from Redis, two chunks are predicted at once (featurized here,
    // run on a worker thread: the second keeps the model busy while the first one's results are serialized), and
    // the previous chunk's results are written. Each chunk is still written whole in one MULTI, so a crash loses
    // at most the chunks in flight.
    const todo = Array.from({ length: work.chunks }, (_, n) => n).filter((n) => !parts.has(n));
    const read = async (n: number) => {
      const loaded = await work.load(n);
      // A chunked input arrives as one NDJSON string; parse it here (rows that are not JSON are answered in place).
      if (data.input.kind === 'chunks') return parseLines(loaded[0] as string, n * work.chunkRows);
      return data.input.kind === 'source' ? sourceRows(loaded) : { rows: loaded, bad: new Map<number, RowError>() };
    };
    const quiet = <T>(p: Promise<T>) => {
      // Awaited later (or dropped on drain): never an unhandled rejection meanwhile.
      p.catch(() => undefined);
      return p;
    };
    const reads = new Map<number, ReturnType<typeof read>>();
    /** Chunk todo[k]'s input, read once (predicting chunk k starts the read of chunk k + 1). */
    const readAt = (k: number): ReturnType<typeof read> => {
      let reading = reads.get(k);
      if (!reading) {
        reading = quiet(read(todo[k] as number));
        reads.set(k, reading);
      }
      return reading;
    };
    // Aborted on drain: the pieces of chunks not yet run are dropped (the next worker redoes those chunks).
    const predictions = new AbortController();
    let predictedUntil = 0;
    const predict = (k: number) =>
      quiet(
        (async () => {
          const n = todo[k] as number;
          const input = await readAt(k);
          reads.delete(k);
          if (k + 1 < todo.length) void readAt(k + 1);
          if ((await redis.exists(cancelKey(prefix, queue, jobId))) === 1) throw new JobRefusedError('cancelled', 'cancelled');
          const began = performance.now();
          const { results, model } = await runtime.predictChunk(input.rows, { signal: predictions.signal });
          // Two chunks overlap: each counts from the end of the one before, so the summary's sum stays wall time.
          const end = performance.now();
          const ms = end - Math.max(began, predictedUntil);
          predictedUntil = Math.max(predictedUntil, end);
          return { n, rows: input.rows, bad: input.bad, results, model, ms: Math.max(0, ms) };
        })(),
      );
    const predicting: ReturnType<typeof predict>[] = todo.slice(0, 2).map((_, k) => predict(k));
    const settle = async () => {
      predictions.abort(new Error('draining'));
      await Promise.all(predicting.map((p) => p.catch(() => undefined)));
    };
    let writing: Promise<void> = Promise.resolve();
    for (let k = 0; k < todo.length; k++) {
      let chunk: Awaited<ReturnType<typeof predict>>;
      let extra: (Record<string, unknown> | undefined)[];
      try {
        chunk = await (predicting.shift() as ReturnType<typeof predict>);
        if (k + 2 < todo.length) predicting.push(predict(k + 2));
        // The queue's hook (an audit trail) runs for the chunk about to be written, not for one predicted ahead
        // that a drain or cancel would drop: what it records is what the results deliver.
        const { n, rows, results, model } = chunk;
        extra = (await deps.afterChunk?.({ jobId, chunk: n, base: n * work.chunkRows, rows, results, model, submittedBy: data.submitted_by })) ?? [];
      } catch (error) {
        await settle();
        await writing.catch(() => undefined);
        if (error instanceof JobRefusedError && error.reason === 'cancelled') await work.cleanup();
        throw error;
      }
      const { n, bad, results, model } = chunk;
      const base = n * work.chunkRows;
      const lines: string[] = new Array(results.length);
      const errors: ChunkPart['errors'] = [];
      let ok = 0;
      for (let i = 0; i < results.length; i++) {
        const index = base + i;
        const refused = bad.get(i);
        const r = results[i];
        if (refused === undefined && r?.ok) {
          ok++;
          const more = extra[i];
          lines[i] = `{"index":${index},"output":${JSON.stringify(more ? { ...r.output, ...more } : r.output)}}`;
          continue;
        }
        const detail = refused ?? errorDetail(r && !r.ok ? asHttpError(r.error) : internal());
        if (errors.length < SUMMARY_ERROR_CAP) errors.push({ index, ...detail });
        lines[i] = JSON.stringify({ index, error: detail });
      }
      const part: ChunkPart = { rows: results.length, ok, failed: results.length - ok, errors, model, ms: chunk.ms };
      // One write in flight: the previous chunk's is stored before this one's starts.
      await writing;
      writing = quiet(
        (async () => {
          await redis
            .multi()
            .set(resultChunkKey(prefix, queue, jobId, n), lines.join('\n'), 'EX', ttl)
            .hset(partsKey, String(n), JSON.stringify(part))
            .expire(partsKey, ttl)
            .exec();
          parts.set(n, part);
          deps.metrics?.rows.inc({ queue, outcome: 'ok' }, ok);
          deps.metrics?.rows.inc({ queue, outcome: 'failed' }, part.failed);
          await job.updateProgress(progress());
        })(),
      );
      if (deps.isStopping?.() && token !== undefined && k + 1 < todo.length) {
        // Draining: store this chunk, drop the ones being predicted (the next worker redoes them), hand the job back
        // (no attempt used); the next worker resumes at the first chunk not in `parts`.
        await writing;
        await settle();
        logger.info('draining: job back to wait after its current chunk', { chunks_done: parts.size, chunks: work.chunks });
        await job.moveToWait(token);
        throw new WaitingError();
      }
    }
    await writing;

    const summary = summarize(jobId, work, parts, { job, startedAt, ttl });
    await redis.set(summaryKey(prefix, queue, jobId), JSON.stringify(summary), 'EX', ttl);
    await work.cleanup();
    logger.info('job completed', { rows: summary.rows, ok: summary.ok, failed: summary.failed, total_ms: summary.timings.total_ms });
    return summary;
  };

  function summarize(jobId: string, work: Plan, parts: Map<number, ChunkPart>, at: { job: Job; startedAt: number; ttl: number }): JobSummary {
    let ok = 0;
    let failed = 0;
    let inferenceMs = 0;
    const errors: JobSummary['errors'] = [];
    const models = new Map<string, { ref: { name: string; version: string }; rows: number }>();
    for (let n = 0; n < work.chunks; n++) {
      const p = parts.get(n) as ChunkPart;
      ok += p.ok;
      failed += p.failed;
      inferenceMs += p.ms;
      for (const e of p.errors) if (errors.length < SUMMARY_ERROR_CAP) errors.push(e);
      const key = `${p.model.name}@${p.model.version}`;
      const m = models.get(key) ?? { ref: p.model, rows: 0 };
      m.rows += p.rows;
      models.set(key, m);
    }
    const byRows = [...models.values()].sort((a, b) => b.rows - a.rows);
    const finished = Date.now();
    const firstStart = at.job.processedOn ?? at.startedAt;
    return {
      job_id: jobId,
      queue,
      rows: ok + failed,
      ok,
      failed,
      errors,
      errors_total: failed,
      model: byRows[0]?.ref ?? { name: runtime.definition.name, version: runtime.ready ? runtime.model().version : 'unknown' },
      models: byRows.map((m) => m.ref),
      chunks: work.chunks,
      results_key: resultsBaseKey(prefix, queue, jobId),
      results_ttl_seconds: at.ttl,
      timings: {
        enqueued_at: new Date(at.job.timestamp).toISOString(),
        started_at: new Date(firstStart).toISOString(),
        finished_at: new Date(finished).toISOString(),
        queued_ms: Math.max(0, firstStart - at.job.timestamp),
        inference_ms: Math.round(inferenceMs),
        total_ms: finished - at.job.timestamp,
      },
      attempts: at.job.attemptsMade + 1,
    };
  }
}

function asHttpError(error: unknown): HttpError {
  return error instanceof HttpError ? error : internal();
}

function internal(): HttpError {
  return new HttpError(500, 'internal_error', 'the instance could not be predicted');
}
