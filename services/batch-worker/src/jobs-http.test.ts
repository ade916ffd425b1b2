import { flightDelayPredictor } from '@predict/flight-delay/predictor';
import { JOB_NAME, type JobSummary } from '@predict/jobs';
import { createLogger, createServingMetrics, Registry, type JobSource } from '@predict/serving';
import { eventually, startTestService, testRedisUrl, TestRedisServer, type TestService } from '@predict/serving/testing';
import request from 'supertest';
import { createApp } from './app';
import { loadConfig } from './config';
import { flightRow, testProducer, uniqueQueuePrefix } from './test-support';
import { WorkerTier } from './worker-tier';

/**
 * Jobs over HTTP end to end, in one process: the flight-delay service's own routes (startTestService with the
 * real predictor and model) enqueue to a real Redis; a WorkerTier (worker-thread inference) runs the jobs.
 */

const prefix = uniqueQueuePrefix('http');
const redisUrl = testRedisUrl();
let service: TestService;
let tier: WorkerTier;
let producer: Awaited<ReturnType<typeof testProducer>>;
let flakyCalls = 0;
const tierMetrics = createServingMetrics(new Registry(), { defaultMetrics: false });

/** A service-defined source whose first read fails (a transient outage of what it reads). */
const flaky: JobSource = {
  count: async (params) => Number(params['rows'] ?? 10),
  read: async (_params, start, end) => {
    flakyCalls++;
    if (flakyCalls === 1) throw new Error('source temporarily unavailable');
    return Array.from({ length: end - start }, (_, k) => flightRow(start + k));
  },
};

function makeTier(): WorkerTier {
  const config = loadConfig({
    REDIS_URL: redisUrl,
    JOBS_PREFIX: prefix,
    INFERENCE_MODE: 'worker',
    INFERENCE_WORKERS: '1',
    MODEL_POLL_INTERVAL_MS: '0',
    WORKER_CONCURRENCY: '1',
    LOG_LEVEL: 'warn',
  });
  const logger = createLogger({ service: 'batch-worker-test', level: 'error' });
  return new WorkerTier({
    config,
    services: [{ queue: 'flight-delay', predictor: flightDelayPredictor, sources: { flaky } }],
    logger,
    metrics: tierMetrics,
  });
}

async function waitCompleted(id: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  let body: Record<string, unknown> = {};
  await eventually(
    async () => {
      const res = await request(service.app).get(`/v1/jobs/${id}`);
      body = res.body as Record<string, unknown>;
      if (body['state'] === 'failed') throw new Error(`job failed: ${JSON.stringify(body['error'])}`);
      return body['state'] === 'completed';
    },
    `job ${id} to complete`,
    timeoutMs,
  );
  return body;
}

beforeAll(async () => {
  producer = await testProducer(prefix);
  service = await startTestService({
    predictor: flightDelayPredictor,
    service: 'flight-delay',
    env: { REDIS_URL: redisUrl, JOBS_PREFIX: prefix, JOBS_CHUNK_ROWS: '1000', MODEL_POLL_INTERVAL_MS: '0' },
  });
  await eventually(() => service.jobs?.redis.ready === true, 'the jobs Redis connection', 20_000);
  tier = makeTier();
}, 120_000);

afterAll(async () => {
  await tier?.stop(10_000);
  await service?.stop();
  await producer?.cleanup();
}, 60_000);

test('priorities order waiting jobs, and a waiting job can be cancelled (before any worker runs)', async () => {
  const submit = async (priority: string) => {
    const res = await request(service.app)
      .post(`/v1/jobs?priority=${priority}`)
      .send({ instances: [flightRow(1), flightRow(2)] })
      .expect(202);
    return res.body.job_id as string;
  };
  const low = await submit('low');
  const normal = await submit('normal');
  const doomed = await submit('normal');
  const high = await submit('high');
  await request(service.app).delete(`/v1/jobs/${doomed}`).expect(200, { job_id: doomed, state: 'cancelled' });
  await request(service.app).get(`/v1/jobs/${doomed}`).expect(404);
  await tier.start();
  await Promise.all([low, normal, high].map((id) => waitCompleted(id)));
  // One job at a time (concurrency 1): each finished before the next, lower priority, started.
  const [h, n, l] = await Promise.all([high, normal, low].map(async (id) => producer.producer.getJob(id)));
  expect(h?.finishedOn).toBeLessThanOrEqual(n?.processedOn as number);
  expect(n?.finishedOn).toBeLessThanOrEqual(l?.processedOn as number);
}, 180_000);

test('submit -> complete -> results equal the online endpoint, row for row (NDJSON and CSV)', async () => {
  const rows = Array.from({ length: 2500 }, (_, i) => (i === 17 ? { origin: 'ORD' } : flightRow(i)));
  const submitted = await request(service.app).post('/v1/jobs').send({ instances: rows }).expect(202);
  expect(submitted.body).toMatchObject({ rows: 2500, status_url: `/v1/jobs/${submitted.body.job_id}` });
  const done = await waitCompleted(submitted.body.job_id);
  const summary = done['summary'] as JobSummary;
  expect(summary).toMatchObject({ rows: 2500, chunks: 3, model: { name: 'flight-delay', version: '1' } });
  expect(done['progress']).toEqual({ rows_done: 2500, rows_total: 2500, chunks_done: 3, chunks_total: 3 });

  const results = await request(service.app).get(`/v1/jobs/${submitted.body.job_id}/results`).buffer(true).parse((res, cb) => {
    let text = '';
    res.on('data', (c: Buffer) => (text += c.toString('utf8')));
    res.on('end', () => cb(null, text));
  });
  expect(results.status).toBe(200);
  expect(results.headers['content-type']).toMatch(/application\/x-ndjson/);
  const lines = (results.body as string).trim().split('\n').map((l) => JSON.parse(l) as { index: number; output?: unknown; error?: { code: string } });
  expect(lines.map((l) => l.index)).toEqual(rows.map((_, i) => i));

  const online: unknown[] = [];
  for (let i = 0; i < rows.length; i += 1000) {
    const res = await request(service.app).post('/v1/predict/batch').send({ instances: rows.slice(i, i + 1000) }).expect(200);
    online.push(...(res.body.predictions as unknown[]));
  }
  let failed = 0;
  lines.forEach((line, i) => {
    const answer = online[i] as { error?: { code: string } };
    if (answer.error) {
      failed++;
      expect(line.error?.code).toBe(answer.error.code);
    } else expect(line.output).toEqual(answer);
  });
  expect(failed).toBeGreaterThan(1);
  expect(summary.failed).toBe(failed);
  expect(summary.errors.map((e) => e.index)).toContain(17);

  const csv = await request(service.app).get(`/v1/jobs/${submitted.body.job_id}/results`).set('Accept', 'text/csv').expect(200);
  const csvLines = csv.text.trim().split('\n');
  expect(csvLines[0]).toBe('index,probability_delayed,expected_delay_minutes,error_code,error_message');
  expect(csvLines).toHaveLength(2501);
  expect(csvLines[18]).toMatch(/^17,,,validation_error,/);
}, 180_000);

test('NDJSON body; an Idempotency-Key maps to one job however often it is submitted', async () => {
  const body = `${[0, 1, 2].map((i) => JSON.stringify(flightRow(i))).join('\n')}\n`;
  const send = () => request(service.app).post('/v1/jobs').set('Content-Type', 'application/x-ndjson').set('Idempotency-Key', `order-${prefix}`).send(body).expect(202);
  const first = await send();
  const second = await send();
  expect(second.body.job_id).toBe(first.body.job_id);
  expect(second.headers['idempotent-replayed']).toBe('true');
  await waitCompleted(first.body.job_id);
  const third = await send();
  expect(third.body.job_id).toBe(first.body.job_id);
  const counts = await producer.producer.queue.getJobCounts('completed', 'waiting', 'active');
  // The three priority jobs, the 2,500-row job and this one.
  expect(counts['completed']).toBe(5);
}, 120_000);

test('a body that is not JSON/NDJSON is a 400 and stores nothing', async () => {
  const res = await request(service.app).post('/v1/jobs').set('Content-Type', 'application/json').send('{"instances": [{"a": 1}, {"b": }]}').expect(400);
  expect(res.body.error).toMatchObject({ code: 'invalid_json', details: { instance: 1 } });
  await request(service.app).post('/v1/jobs').set('Content-Type', 'application/x-ndjson').send('{"a":1}\nnope\n').expect(400);
  await request(service.app).post('/v1/jobs').send({ instances: [] }).expect(400);
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await producer.redis.scan(cursor, 'MATCH', `${prefix}:flight-delay:input:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  expect(keys).toEqual([]);
});

test('an invalid payload fails at once, without retries, naming what is wrong', async () => {
  await producer.producer.queue.add(JOB_NAME, { v: 1, input: { kind: 'inline', instances: 'not a list' } }, { jobId: 'bad-payload', attempts: 3, backoff: { type: 'fixed', delay: 10 } });
  await eventually(async () => (await producer.producer.getJob('bad-payload'))?.finishedOn !== undefined, 'the invalid job to fail', 60_000);
  const job = await producer.producer.getJob('bad-payload');
  expect(await job?.getState()).toBe('failed');
  expect(job?.attemptsMade).toBe(1);
  expect(job?.failedReason).toMatch(/input\.instances/);
}, 90_000);

test('a transient failure is retried with exponential backoff, and the job completes', async () => {
  const { jobId } = await producer.producer.enqueue({ kind: 'source', source: 'flaky', params: { rows: 25 } }, { attempts: 3, backoff: { type: 'exponential', delay_ms: 200 } });
  const summary = await producer.producer.waitForJob(jobId, { timeoutMs: 90_000 });
  expect(summary).toMatchObject({ rows: 25, attempts: 2 });
  expect(flakyCalls).toBeGreaterThanOrEqual(2);
}, 120_000);

test('an active job is cancelled before its next chunk', async () => {
  const { jobId } = await producer.producer.enqueueRows(
    (function* () {
      for (let i = 0; i < 200_000; i++) yield flightRow(i);
    })(),
    { chunkRows: 500 },
  );
  await eventually(async () => ((await producer.producer.status(jobId))?.progress?.chunks_done ?? 0) >= 1, 'the job to be under way', 60_000);
  await request(service.app).delete(`/v1/jobs/${jobId}`).expect(202, { job_id: jobId, state: 'cancelling' });
  await eventually(async () => (await producer.producer.status(jobId))?.state === 'failed', 'the job to stop', 60_000);
  const status = await request(service.app).get(`/v1/jobs/${jobId}`).expect(200);
  expect(status.body).toMatchObject({ state: 'failed', cancel_requested: true, error: { message: 'cancelled' } });
  expect(status.body.progress.chunks_done).toBeLessThan(400);
  await request(service.app).get(`/v1/jobs/${jobId}/results`).expect(409);
}, 120_000);

test("the worker's own port: readiness, metrics, Bull-board behind the admin scope", async () => {
  const adminKey = 'ops:admin-key-0123456789abcdef';
  const app = createApp({
    config: { API_KEYS_ADMIN: [adminKey], API_KEYS_PREDICT: ['predict-key-0123456789abcdef'], METRICS_REQUIRE_AUTH: false, ACCESS_LOG: false },
    version: '0.0.0-test',
    logger: createLogger({ service: 'batch-worker-test', level: 'error' }),
    metrics: tierMetrics,
    tier,
    startedAt: new Date(),
    isDraining: () => false,
  });
  await request(app).get('/health/live').expect(200);
  await request(app).get('/health/ready').expect(200);
  await request(app).get('/admin/queues').expect(401);
  await request(app).get('/admin/queues').set('X-API-Key', 'predict-key-0123456789abcdef').expect(403);
  const board = await request(app).get('/admin/queues').set('X-API-Key', 'admin-key-0123456789abcdef').expect(200);
  expect(board.text).toMatch(/<html/i);
  const queues = await request(app).get('/admin/queues/api/queues').set('X-API-Key', 'admin-key-0123456789abcdef').expect(200);
  expect(JSON.stringify(queues.body)).toContain('flight-delay');
  await request(app).post('/health/live').expect(405);
  const metrics = (await request(app).get('/metrics').expect(200)).text;
  expect(metrics).toMatch(/batch_rows_processed_total\{[^}]*queue="flight-delay"[^}]*outcome="ok"[^}]*\} [1-9]/);
  expect(metrics).toMatch(/batch_queue_jobs\{[^}]*queue="flight-delay"[^}]*state="waiting"[^}]*\} 0/);
  expect(metrics).toMatch(/batch_job_failures_total\{[^}]*reason="invalid_payload"[^}]*\} 1/);
  expect(metrics).toMatch(/batch_job_duration_seconds_count\{[^}]*outcome="completed"/);
}, 60_000);

describe('Redis unreachable', () => {
  let redis: TestRedisServer;
  let svc: TestService;

  beforeAll(async () => {
    redis = await TestRedisServer.start();
    svc = await startTestService({ predictor: flightDelayPredictor, service: 'flight-delay', env: { REDIS_URL: redis.url, MODEL_POLL_INTERVAL_MS: '0' } });
    await eventually(() => svc.jobs?.redis.ready === true, 'the jobs Redis connection', 20_000);
  }, 60_000);

  afterAll(async () => {
    await svc?.stop();
    await redis?.stop();
  });

  test('job routes answer 503 saying so; predictions, readiness and /health (degraded) carry on', async () => {
    await redis.stop();
    await eventually(() => svc.jobs?.redis.ready === false, 'the outage to be seen', 20_000);
    const res = await request(svc.app).post('/v1/jobs').send({ instances: [flightRow(1)] }).expect(503);
    expect(res.body.error).toMatchObject({ code: 'jobs_unavailable' });
    expect(res.body.error.message).toMatch(/Redis is unreachable; online predictions still work/);
    await request(svc.app).get('/v1/jobs/some-job').expect(503);
    await request(svc.app).post('/v1/predict').send(flightRow(1)).expect(200);
    await request(svc.app).get('/health/ready').expect(200);
    const health = await request(svc.app).get('/health').expect(200);
    expect(health.body).toMatchObject({ status: 'degraded', checks: { jobs: 'degraded' } });
  }, 60_000);
});
