import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ChunkWriter } from './chunk-writer';
import { cancelKey, inputBaseKey, resultChunkKey, summaryKey } from './keys';
import { DEFAULT_QUEUE_PREFIX, JOB_NAME } from './queues';
import {
  DEFAULT_CHUNK_ROWS,
  DEFAULT_RESULTS_TTL_SECONDS,
  PRIORITIES,
  jobDataSchema,
  jobOptionsSchema,
  jobSummarySchema,
  type JobData,
  type JobDataInput,
  type JobInput,
  type JobOptions,
  type JobProgress,
  type JobSummary,
  type ResultLine,
} from './schemas';

export interface ProducerOptions {
  /**
   * An ioredis connection. Producers fail fast: give it `maxRetriesPerRequest` 1 (or 0) and
   * `enableOfflineQueue: false`, so a call fails at once while Redis is away instead of waiting.
   */
  connection: Redis;
  /** Queue prefix (default `{predict}`, hash-tagged for Redis Cluster). */
  prefix?: string;
}

export interface EnqueueOptions extends JobOptions {
  /** The job id (an idempotency key): a second enqueue with the same id does nothing. A UUID otherwise. */
  jobId?: string;
  chunkRows?: number;
  resultsTtlSeconds?: number;
  submittedBy?: string;
  requestId?: string;
}

export type JobState = 'waiting' | 'prioritized' | 'delayed' | 'active' | 'completed' | 'failed' | 'waiting-children' | 'unknown';

/** What `GET /v1/jobs/:id` answers. */
export interface JobStatus {
  job_id: string;
  queue: string;
  state: JobState;
  progress: JobProgress | null;
  rows: number | null;
  priority: string | null;
  attempts_made: number;
  enqueued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  cancel_requested: boolean;
  summary: JobSummary | null;
  error: { message: string } | null;
}

export class JobFailedError extends Error {
  override name = 'JobFailedError';
  constructor(
    readonly jobId: string,
    readonly reason: string,
  ) {
    super(`job ${jobId} failed: ${reason}`);
  }
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
const priorityName = (p: number | undefined) => (Object.entries(PRIORITIES).find(([, v]) => v === p)?.[0] ?? null);

/** A BullMQ job id: no ':' (BullMQ refuses it) and not a bare integer. */
export function isValidJobId(id: string): boolean {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(id) && !/^\d+$/.test(id);
}

/**
 * Typed producer for one queue: enqueue (inline, chunked or source inputs), status, wait, read results,
 * cancel. Uses only `@predict/jobs`, bullmq and ioredis, so any internal TypeScript service can use it.
 */
export class JobProducer {
  readonly queue: Queue;
  readonly prefix: string;

  constructor(
    readonly name: string,
    private readonly options: ProducerOptions,
  ) {
    this.prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.queue = new Queue(name, { connection: options.connection, prefix: this.prefix });
    // Without a listener an outage would be an unhandled 'error' event.
    this.queue.on('error', () => undefined);
  }

  private get redis(): Redis {
    return this.options.connection;
  }

  /** Enqueues a job (validated against the wire format first). Returns its id and whether it was new. */
  async enqueue(input: JobInput, options: EnqueueOptions = {}): Promise<{ jobId: string; created: boolean }> {
    const jobId = options.jobId ?? randomUUID();
    if (!isValidJobId(jobId)) throw new Error(`invalid job id '${jobId}': letters, digits, '_', '.', '-' (not only digits), at most 128`);
    const opts = jobOptionsSchema.parse({ priority: options.priority, attempts: options.attempts, backoff: options.backoff });
    const payload: JobDataInput = {
      v: 1,
      input,
      chunk_rows: options.chunkRows ?? DEFAULT_CHUNK_ROWS,
      results_ttl_seconds: options.resultsTtlSeconds ?? DEFAULT_RESULTS_TTL_SECONDS,
      ...(options.submittedBy ? { submitted_by: options.submittedBy } : {}),
      ...(options.requestId ? { request_id: options.requestId } : {}),
    };
    const data: JobData = jobDataSchema.parse(payload);
    // A known id (a retried submit) is not enqueued again, even once BullMQ has removed the finished job.
    if ((await this.getJob(jobId)) || (await this.redis.exists(summaryKey(this.prefix, this.name, jobId))) === 1) return { jobId, created: false };
    await this.queue.add(JOB_NAME, data, {
      jobId,
      priority: PRIORITIES[opts.priority],
      attempts: opts.attempts,
      backoff: { type: opts.backoff.type, delay: opts.backoff.delay_ms },
    });
    return { jobId, created: true };
  }

  /** A job whose instances travel in its payload (up to MAX_INLINE_INSTANCES). */
  enqueueInstances(instances: readonly unknown[], options: EnqueueOptions = {}) {
    return this.enqueue({ kind: 'inline', instances: [...instances] }, options);
  }

  /** Writes a writer for a job's chunked input: add rows, then `enqueue(await writer.finish(), {jobId})`. */
  chunkWriter(jobId: string, chunkRows = DEFAULT_CHUNK_ROWS, ttlSeconds = DEFAULT_RESULTS_TTL_SECONDS): ChunkWriter {
    return new ChunkWriter({ connection: this.redis, prefix: this.prefix, queue: this.name, jobId, chunkRows, ttlSeconds });
  }

  /** Streams any number of instances into Redis in chunks, then enqueues the job that reads them. */
  async enqueueRows(rows: Iterable<unknown> | AsyncIterable<unknown>, options: EnqueueOptions = {}) {
    const jobId = options.jobId ?? randomUUID();
    const writer = this.chunkWriter(jobId, options.chunkRows, options.resultsTtlSeconds);
    for await (const row of rows) await writer.add(JSON.stringify(row));
    if (writer.rowCount === 0) throw new Error('no instances');
    return this.enqueue(await writer.finish(), { ...options, jobId });
  }

  async getJob(jobId: string): Promise<Job<JobData, JobSummary> | undefined> {
    return (await this.queue.getJob(jobId)) as Job<JobData, JobSummary> | undefined;
  }

  /** The summary of a completed job, kept for its results' TTL even after BullMQ has removed the job. */
  async summary(jobId: string): Promise<JobSummary | undefined> {
    const text = await this.redis.get(summaryKey(this.prefix, this.name, jobId));
    return text ? jobSummarySchema.parse(JSON.parse(text)) : undefined;
  }

  /** The job's state, progress, counts and timestamps; undefined when unknown (or expired). */
  async status(jobId: string): Promise<JobStatus | undefined> {
    // The state first, then the job: a job read before it finished could otherwise be reported failed without its reason.
    const known = (await this.queue.getJobState(jobId)) as JobState;
    // The rest concurrently (none depends on another), not one after the other.
    const [job, stored, cancelled] = await Promise.all([this.getJob(jobId), this.summary(jobId), this.redis.exists(cancelKey(this.prefix, this.name, jobId))]);
    const summary = stored ?? null;
    if (!job) {
      if (!summary) return undefined;
      return {
        job_id: jobId,
        queue: this.name,
        state: 'completed',
        progress: { rows_done: summary.rows, rows_total: summary.rows, chunks_done: summary.chunks, chunks_total: summary.chunks },
        rows: summary.rows,
        priority: null,
        attempts_made: summary.attempts,
        enqueued_at: summary.timings.enqueued_at,
        started_at: summary.timings.started_at,
        finished_at: summary.timings.finished_at,
        cancel_requested: false,
        summary,
        error: null,
      };
    }
    const state = known === 'unknown' ? ((await job.getState()) as JobState) : known;
    const input = job.data.input;
    const progress = typeof job.progress === 'object' ? (job.progress as JobProgress) : null;
    return {
      job_id: jobId,
      queue: this.name,
      state,
      progress,
      rows: input.kind === 'inline' ? input.instances.length : input.kind === 'chunks' ? input.rows : (progress?.rows_total ?? null),
      priority: priorityName(job.priority),
      attempts_made: job.attemptsMade,
      enqueued_at: iso(job.timestamp),
      started_at: iso(job.processedOn),
      finished_at: iso(job.finishedOn),
      cancel_requested: cancelled === 1,
      summary: state === 'completed' ? (summary ?? job.returnvalue ?? null) : null,
      error: state === 'failed' ? { message: job.failedReason } : null,
    };
  }

  /** Resolves with the summary once the job completes; rejects with JobFailedError if it fails. Polls (no extra connection). */
  async waitForJob(jobId: string, { timeoutMs = 600_000, pollMs = 250 }: { timeoutMs?: number; pollMs?: number } = {}): Promise<JobSummary> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status(jobId);
      if (!status) throw new Error(`job ${jobId} not found`);
      if (status.state === 'completed' && status.summary) return status.summary;
      if (status.state === 'failed') throw new JobFailedError(jobId, status.error?.message ?? 'unknown');
      if (Date.now() > deadline) throw new Error(`job ${jobId} still ${status.state} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** The raw NDJSON result lines of a completed job, in index order, chunk by chunk. */
  async *readResultLines(jobId: string, summary?: JobSummary): AsyncGenerator<string> {
    const done = summary ?? (await this.summary(jobId));
    if (!done) throw new Error(`job ${jobId} has no results (not completed, or expired)`);
    for (let n = 0; n < done.chunks; n++) {
      const text = await this.redis.get(resultChunkKey(this.prefix, this.name, jobId, n));
      if (text === null) throw new Error(`results chunk ${n} of job ${jobId} is missing (expired?)`);
      for (const line of text.split('\n')) if (line !== '') yield line;
    }
  }

  /** The results of a completed job, parsed, in index order. */
  async *readResults(jobId: string): AsyncGenerator<ResultLine> {
    for await (const line of this.readResultLines(jobId)) yield JSON.parse(line) as ResultLine;
  }

  /**
   * Cancels a job: a waiting or delayed one is removed (and its input deleted); an active one is asked to stop
   * before its next chunk (it then fails with reason `cancelled`). `finished` when it already completed or failed.
   */
  async cancel(jobId: string): Promise<'cancelled' | 'cancelling' | 'finished' | 'not_found'> {
    const job = await this.getJob(jobId);
    if (!job) return (await this.summary(jobId)) ? 'finished' : 'not_found';
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return 'finished';
    if (state !== 'active') {
      try {
        await job.remove();
        await this.deleteInput(job.data);
        return 'cancelled';
      } catch {
        // Taken by a worker meanwhile: ask it to stop.
      }
    }
    await this.redis.set(cancelKey(this.prefix, this.name, jobId), '1', 'EX', job.data.results_ttl_seconds ?? DEFAULT_RESULTS_TTL_SECONDS);
    return 'cancelling';
  }

  /** Deletes a chunked input's keys. */
  async deleteInput(data: JobData): Promise<void> {
    if (data.input.kind !== 'chunks') return;
    const { key, chunks } = data.input;
    for (let n = 0; n < chunks; n += 1000) {
      const keys = Array.from({ length: Math.min(1000, chunks - n) }, (_, k) => `${key}:${n + k}`);
      await this.redis.del(...keys);
    }
  }

  /** The key under which this producer writes a job's chunked input (for producers in other languages: the same layout). */
  inputKey(jobId: string): string {
    return inputBaseKey(this.prefix, this.name, jobId);
  }

  /** Closes the queue (not the connection, which the caller owns). */
  async close(): Promise<void> {
    await this.queue.close();
  }
}
