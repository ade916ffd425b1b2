import { createHash, randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { isValidJobId, type JobStatus } from '@predict/jobs';
import { z } from 'zod';
import { callerOf } from '../auth/api-keys';
import { HttpError } from '../errors/http-error';
import { NotFoundError } from '../errors/not-found-error';
import { PayloadTooLargeError } from '../errors/payload-too-large-error';
import { ServiceUnavailableError } from '../errors/service-unavailable-error';
import { declaredLength } from '../http/body-limit';
import { requestIdOf } from '../http/request-context';
import type { OpenApiSchema, RequestDecoder } from '../http/request-decoder';
import type { AnyPredictor } from '../inference/predictor';
import type { RouteSpec } from '../service/route-table';
import type { JobsParts } from './create-jobs';
import { JsonInstancesSplitter, NdjsonSplitter, utf8Chunks } from './instance-stream';
import { jobStatusSchema, jobSubmittedSchema } from './job-schemas';

/** Bound on one Redis round trip of a job route: past it the route answers 503 instead of hanging. */
const REDIS_CALL_TIMEOUT_MS = 15_000;

function unavailable(reason: string): ServiceUnavailableError {
  return new ServiceUnavailableError(`batch jobs are unavailable: ${reason}; online predictions still work`, 'jobs_unavailable', 5);
}

/**
 * The path prefix a trusted proxy strips (nginx sends `X-Forwarded-Prefix: /<service>`), so the job URLs this
 * service hands back work as the client sees them. Honoured only when the connection comes from an address
 * TRUST_PROXY trusts (Express's `trust proxy` check of the immediate peer) and only as plain path segments;
 * otherwise ''.
 */
export function forwardedPrefix(req: Request): string {
  const prefix = req.get('x-forwarded-prefix');
  if (!prefix) return '';
  const trusted = req.app.get('trust proxy fn') as ((address: string | undefined, hop: number) => boolean) | undefined;
  if (!trusted?.(req.socket.remoteAddress, 0)) return '';
  return /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._~-]+){1,8}$/.test(prefix) ? prefix : '';
}

/** The backend, or a 503 naming why there is none (no REDIS_URL, JOBS=off, Redis unreachable). */
function backend(jobs: JobsParts | undefined): JobsParts {
  if (!jobs) throw unavailable('this service has no Redis for jobs (set REDIS_URL; JOBS must be on)');
  if (!jobs.redis.ready) throw unavailable('Redis is unreachable');
  return jobs;
}

/**
 * A Redis failure mid-route (not our bug) becomes 503; anything else stays what it was. `boundMs` bounds a
 * few round trips (status, enqueue); a streamed upload passes `null`: no overall bound (each of its writes is
 * bounded instead). `null`, not `undefined`: an explicit `undefined` argument takes the default.
 */
export async function redisCall<T>(jobs: Pick<JobsParts, 'redis'>, call: () => Promise<T>, boundMs: number | null = REDIS_CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    if (boundMs === null) return await call();
    return await Promise.race([
      call(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(unavailable('Redis did not answer in time')), boundMs);
      }),
    ]);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    if (!jobs.redis.ready || isRedisError(error)) throw unavailable('Redis is unreachable');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function isRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET/.test(error.message) ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET'
  );
}

/** A streaming decoder: it only checks the media type; the handler reads the body itself, chunk by chunk. */
function streamed(mediaType: string, describe: () => OpenApiSchema): RequestDecoder {
  return { mediaType, decode: (_req, _res, next) => next(), openapi: describe };
}

const priorityQuery = z.object({ priority: z.enum(['high', 'normal', 'low']).default('normal') });

/** A job id from an Idempotency-Key: the same key (for this service) always names the same job. */
function idempotentJobId(service: string, key: string): string {
  return `idem-${createHash('sha256').update(`${service}\n${key}`).digest('hex').slice(0, 40)}`;
}

function jobIdParam(req: Request): string {
  const id = String(req.params['id'] ?? '');
  if (!isValidJobId(id)) throw new NotFoundError(`no job '${id.slice(0, 100)}'`, 'job_not_found');
  return id;
}

/**
 * Streams a job body into Redis in chunks: `{"instances": [...]}` (application/json) or NDJSON, one instance
 * per line. Each instance is checked to be JSON here; its validation against the predictor happens in the
 * worker, and a row that fails is answered in the results. Refuses bodies over the jobs body limit (413).
 */
async function streamInstances(req: Request, jobs: JobsParts, jobId: string): Promise<{ kind: 'chunks'; key: string; chunks: number; rows: number; chunk_rows: number }> {
  const { bodyBytes, maxInstances, chunkRows, resultsTtlSeconds } = jobs.limits;
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') throw new HttpError(415, 'unsupported_encoding', `job bodies are not compressed (Content-Encoding "${encoding}")`, { details: { encoding } });
  const writer = jobs.producer.chunkWriter(jobId, chunkRows, resultsTtlSeconds);
  const pending: string[] = [];
  const onElement = (json: string) => {
    if (writer.rowCount + pending.length >= maxInstances) {
      throw new HttpError(413, 'payload_too_large', `at most ${maxInstances} instances per job`, { details: { max_instances: maxInstances } });
    }
    pending.push(json);
  };
  const splitter = req.is('application/x-ndjson') ? new NdjsonSplitter(onElement) : new JsonInstancesSplitter(onElement);
  const text = utf8Chunks();
  let bytes = 0;
  try {
    // for-await reads the next chunk only once this one is stored: Redis sets the pace, memory holds about a chunk.
    for await (const chunk of req as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > bodyBytes) throw new PayloadTooLargeError(bodyBytes);
      splitter.push(text.decode(chunk));
      for (const json of pending.splice(0)) await writer.add(json);
    }
    splitter.push(text.end());
    splitter.end();
    for (const json of pending.splice(0)) await writer.add(json);
    if (writer.rowCount === 0) throw new HttpError(400, 'validation_error', 'a job needs at least one instance', { details: [{ path: 'instances', message: 'must not be empty' }] });
    return await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** CSV cell: quoted when needed; nested values as JSON. */
function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Writes `text`, waiting for the socket to drain when its buffer is full. */
async function write(res: Response, text: string): Promise<void> {
  if (!res.write(text)) await new Promise<void>((resolve) => res.once('drain', resolve));
}

/**
 * What every job submitted over HTTP carries: the service's chunking and results TTL, who asked (the API key
 * id; `anonymous` with auth disabled, as audit records name such a caller), and the request id.
 */
function enqueueOptions(jobs: JobsParts, res: Response) {
  return { chunkRows: jobs.limits.chunkRows, resultsTtlSeconds: jobs.limits.resultsTtlSeconds, submittedBy: callerOf(res) ?? 'anonymous', requestId: requestIdOf(res) };
}

/** 202 with the job's URLs (behind a trusted proxy, under its prefix). */
function answerSubmitted(req: Request, res: Response, jobId: string, rows: number | null, replayed: boolean): void {
  const statusUrl = `${forwardedPrefix(req)}/v1/jobs/${jobId}`;
  res.status(202).location(statusUrl);
  if (replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.json({ job_id: jobId, status_url: statusUrl, results_url: `${statusUrl}/results`, rows });
}

/**
 * Submits a job whose rows a service-defined source gives the worker (`{kind: 'source'}`: iit-risk's
 * `facility`) and answers as `POST /v1/jobs` does: 503 `jobs_unavailable` without Redis, the same bound on
 * Redis, the same 202 body and URLs. `rows` is null: the source counts them when the job starts.
 */
export async function submitSourceJob(req: Request, res: Response, parts: JobsParts | undefined, source: string, params: Record<string, unknown>): Promise<void> {
  const jobs = backend(parts);
  const { jobId } = await redisCall(jobs, () => jobs.producer.enqueue({ kind: 'source', source, params }, enqueueOptions(jobs, res)));
  answerSubmitted(req, res, jobId, null, false);
}

/**
 * The job routes every prediction service has: submit (`POST /v1/jobs`, streamed into Redis), status, results
 * (NDJSON in index order, or CSV), cancel. They answer 503 `jobs_unavailable` while Redis is away; nothing
 * else in the service depends on it.
 */
export function jobRoutes(service: string, predictor: AnyPredictor, parts: JobsParts | undefined): RouteSpec[] {
  const limits = parts?.limits;
  const outputColumns = (predictor.output as z.ZodType) instanceof z.ZodObject ? Object.keys((predictor.output as z.ZodObject).shape) : ['output'];
  const items = 'each instance as POST /v1/predict takes it';
  return [
    {
      method: 'post',
      path: '/v1/jobs',
      summary:
        `Submit a batch job: {"instances": [...]} or NDJSON, up to ${limits?.maxInstances ?? 'JOBS_MAX_INSTANCES'} instances and ${limits?.bodyBytes ?? 'JOBS_BODY_LIMIT_BYTES'} bytes, ` +
        'streamed into Redis; an invalid instance is answered in the results. Idempotency-Key: a retried submit returns the same job. ?priority=high|normal|low',
      scope: 'predict',
      body: {
        decoders: [
          streamed('application/json', () => ({ type: 'object', required: ['instances'], properties: { instances: { type: 'array', description: items, items: {} } } })),
          streamed('application/x-ndjson', () => ({ type: 'string', description: `newline-delimited JSON: ${items}, one per line` })),
        ],
      },
      responses: { 202: { description: 'accepted (or, with a known Idempotency-Key, the existing job)', schema: jobSubmittedSchema } },
      errors: [503],
      handler: async (req, res) => {
        const jobs = backend(parts);
        const { priority } = priorityQuery.parse(req.query);
        const declared = declaredLength(req);
        if (declared !== undefined && declared > jobs.limits.bodyBytes) throw new PayloadTooLargeError(jobs.limits.bodyBytes);
        const key = req.get('idempotency-key');
        if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
          throw new HttpError(400, 'validation_error', 'Idempotency-Key must be 1-255 visible ASCII characters', { details: [{ path: 'Idempotency-Key', message: 'invalid' }] });
        }
        const jobId = key === undefined ? randomUUID() : idempotentJobId(service, key);
        const answer = (rows: number | null, replayed: boolean) => answerSubmitted(req, res, jobId, rows, replayed);
        if (key !== undefined) {
          const existing = await redisCall(jobs, () => jobs.producer.status(jobId));
          if (existing) {
            // The body is not needed: a retried submit names the job it already made.
            req.resume();
            answer(existing.rows, true);
            return;
          }
        }
        const input = await redisCall(jobs, () => streamInstances(req, jobs, jobId), null).catch((error: unknown) => {
          // Anything after a refused body is left unread: close the connection rather than drain it.
          res.setHeader('Connection', 'close');
          throw error;
        });
        const { created } = await redisCall(jobs, () => jobs.producer.enqueue(input, { ...enqueueOptions(jobs, res), jobId, priority }));
        answer(input.rows, !created);
      },
    },
    {
      method: 'get',
      path: '/v1/jobs/:id',
      summary: 'A job: state, progress, row counts, timestamps, model version, error, and its summary once completed',
      scope: 'predict',
      responses: { 200: { description: 'the job', schema: jobStatusSchema } },
      errors: [404, 503],
      handler: async (req, res) => {
        const jobs = backend(parts);
        const id = jobIdParam(req);
        const status: JobStatus | undefined = await redisCall(jobs, () => jobs.producer.status(id));
        if (!status) throw new NotFoundError(`no job '${id}' (unknown, or its results expired)`, 'job_not_found');
        res.json(status);
      },
    },
    {
      method: 'get',
      path: '/v1/jobs/:id/results',
      summary: 'A completed job\'s results in index order: NDJSON, one {"index", "output"} or {"index", "error"} per instance; CSV with Accept: text/csv',
      scope: 'predict',
      responses: {
        200: { description: 'the results', contentType: 'application/x-ndjson', schema: { type: 'string', description: 'NDJSON (or text/csv)' } },
      },
      errors: [404, 406, 409, 503],
      handler: async (req, res) => {
        const jobs = backend(parts);
        const id = jobIdParam(req);
        const format = req.accepts(['application/x-ndjson', 'application/json', 'text/csv']);
        if (format === false) throw new HttpError(406, 'not_acceptable', 'results are application/x-ndjson or text/csv', { details: { available: ['application/x-ndjson', 'text/csv'] } });
        const status = await redisCall(jobs, () => jobs.producer.status(id));
        if (!status) throw new NotFoundError(`no job '${id}' (unknown, or its results expired)`, 'job_not_found');
        if (status.state !== 'completed' || !status.summary) {
          throw new HttpError(409, 'job_not_completed', `job '${id}' is ${status.state}; results are readable once it completes`, { details: { state: status.state } });
        }
        const lines = jobs.producer.readResultLines(id, status.summary);
        const csv = format === 'text/csv';
        res.status(200).type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
        if (csv) await write(res, `${['index', ...outputColumns, 'error_code', 'error_message'].join(',')}\n`);
        try {
          for await (const line of lines) {
            if (!csv) {
              await write(res, `${line}\n`);
              continue;
            }
            const r = JSON.parse(line) as { index: number; output?: Record<string, unknown>; error?: { code: string; message: string } };
            const cells = [r.index, ...outputColumns.map((c) => (outputColumns.length === 1 && c === 'output' ? r.output : r.output?.[c])), r.error?.code, r.error?.message];
            await write(res, `${cells.map(csvCell).join(',')}\n`);
          }
        } catch (error) {
          // Headers are sent: the client sees a cut stream, and the log says why.
          res.destroy(error as Error);
          throw error;
        }
        res.end();
      },
    },
    {
      method: 'delete',
      path: '/v1/jobs/:id',
      summary: 'Cancel a job: a waiting one is removed (200 cancelled); an active one stops before its next chunk (202 cancelling)',
      scope: 'predict',
      responses: {
        200: { description: 'cancelled', schema: z.object({ job_id: z.string(), state: z.literal('cancelled') }) },
        202: { description: 'cancelling', schema: z.object({ job_id: z.string(), state: z.literal('cancelling') }) },
      },
      errors: [404, 409, 503],
      handler: async (req, res) => {
        const jobs = backend(parts);
        const id = jobIdParam(req);
        const outcome = await redisCall(jobs, () => jobs.producer.cancel(id));
        if (outcome === 'not_found') throw new NotFoundError(`no job '${id}'`, 'job_not_found');
        if (outcome === 'finished') throw new HttpError(409, 'job_finished', `job '${id}' has already finished`);
        res.status(outcome === 'cancelled' ? 200 : 202).json({ job_id: id, state: outcome });
      },
    },
  ];
}
