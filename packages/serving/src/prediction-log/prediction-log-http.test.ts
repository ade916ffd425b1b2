import type { Redis } from 'ioredis';
import request from 'supertest';
import { connectTestRedis, deleteKeys, testRedisUrl, TestRedisServer, uniqueKeyPrefix } from '../redis/redis-test-support';
import { eventually } from '../testing/eventually';
import { linearPredictor } from '../testing/linear-predictor';
import { startTestService, type TestService } from '../testing/test-service';

const ADMIN_KEY = 'admin-key-0123456789ab';
const PREDICT_KEY = 'predict-key-0123456789';

/** Every entry of a stream, oldest first, parsed. */
async function streamEntries(redis: Redis, key: string): Promise<Record<string, unknown>[]> {
  const rows = await redis.xrange(key, '-', '+');
  return rows.map(([id, fields]) => {
    expect(fields[0]).toBe('entry'); // one field per entry: the JSON
    return { id, ...(JSON.parse(fields[1] as string) as Record<string, unknown>) };
  });
}

describe('prediction log (shared Redis at REDIS_URL)', () => {
  let redis: Redis;
  let prefix: string;
  const services: TestService[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const svc = await startTestService({
      predictor: linearPredictor,
      env: { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, PREDICTION_LOG: 'on', JOBS: 'off', ...env },
    });
    services.push(svc);
    await eventually(() => svc.redis?.ready === true, 'the prediction log connection');
    return svc;
  };

  beforeAll(async () => {
    redis = await connectTestRedis();
  });
  beforeEach(() => {
    prefix = uniqueKeyPrefix();
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
    if (redis) await deleteKeys(redis, prefix);
  });
  afterAll(() => redis?.quit());

  it('writes each prediction to the stream: request id, time, model, input, output, latency', async () => {
    const svc = await start();
    const before = Date.now();
    const res = await request(svc.app).post('/v1/predict').set('X-Request-ID', 'log-1').send({ a: 1, b: 2, c: 4 }).expect(200);
    const key = `${prefix}predictions:test`;
    await eventually(async () => (await redis.xlen(key)) === 1, 'one entry in the stream');
    const [entry] = await streamEntries(redis, key);
    expect(entry).toEqual({
      id: expect.stringMatching(/^\d+-\d+$/),
      request_id: 'log-1',
      time: expect.any(String),
      model: { name: 'linear', version: '2' },
      input: { a: 1, b: 2, c: 4 },
      output: { y: res.body.y, p: res.body.p },
      latency_ms: expect.any(Number),
    });
    expect(Date.parse(entry?.['time'] as string)).toBeGreaterThanOrEqual(before - 1);
    expect(entry?.['latency_ms']).toBeGreaterThanOrEqual(0);
    expect(await svc.metricValue('prediction_log_written_total')).toBe(1);
    expect(await svc.metricValue('prediction_log_dropped_total')).toBe(0);
  });

  it('writes one entry per answered batch instance, with its index; invalid and rejected instances are not logged', async () => {
    const svc = await start();
    await request(svc.app)
      .post('/v1/predict/batch')
      .set('X-Request-ID', 'batch-1')
      .send({ instances: [{ a: 1, b: 0, c: 0 }, { a: 'no' }, { a: 13, b: 0, c: 0 }, { a: 0, b: 0, c: 1 }] })
      .expect(200);
    const key = `${prefix}predictions:test`;
    await eventually(async () => (await redis.xlen(key)) === 2, 'two entries in the stream');
    const entries = await streamEntries(redis, key);
    expect(entries.map((e) => [e['request_id'], e['index'], e['input']])).toEqual([
      ['batch-1', 0, { a: 1, b: 0, c: 0 }],
      ['batch-1', 3, { a: 0, b: 0, c: 1 }],
    ]);
    expect((entries[1]?.['output'] as { y: number }).y).toBeCloseTo(-0.25, 5);
    expect(entries[0]?.['model']).toEqual({ name: 'linear', version: '2' });
    // A failed prediction is not an answered one: nothing from the 400 or 422 routes either.
    await request(svc.app).post('/v1/predict').send({ a: 13, b: 0, c: 0 }).expect(422);
    await request(svc.app).post('/v1/predict').send({ a: 'x' }).expect(400);
    await request(svc.app).post('/v1/predict').set('X-Request-ID', 'after').send({ a: 0, b: 0, c: 0 }).expect(200);
    await eventually(async () => (await redis.xlen(key)) === 3, 'the third entry');
    expect((await streamEntries(redis, key)).map((e) => e['request_id'])).toEqual(['batch-1', 'batch-1', 'after']);
  });

  it('caps the stream near PREDICTION_LOG_MAXLEN (XADD MAXLEN ~)', async () => {
    const svc = await start({ PREDICTION_LOG_MAXLEN: '10', PREDICTION_LOG_BATCH: '50' });
    const instances = Array.from({ length: 100 }, (_, i) => ({ a: 0, b: i, c: 0 }));
    for (let i = 0; i < 3; i++) await request(svc.app).post('/v1/predict/batch').send({ instances }).expect(200);
    await eventually(async () => (await svc.metricValue('prediction_log_written_total')) === 300, '300 entries written');
    // Approximate trimming removes whole stream nodes (100 entries by default): at least 10 stay, at most 10 + 100.
    const length = await redis.xlen(`${prefix}predictions:test`);
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThanOrEqual(110);
  });

  it('serves the newest entries at GET /admin/predictions (admin scope), newest first, limit 1..1000', async () => {
    const svc = await start({ API_KEYS_ADMIN: ADMIN_KEY, API_KEYS_PREDICT: PREDICT_KEY });
    for (const a of [1, 2, 3]) {
      await request(svc.app).post('/v1/predict').set('X-API-Key', PREDICT_KEY).set('X-Request-ID', `r${a}`).send({ a, b: 0, c: 0 }).expect(200);
    }
    await eventually(async () => (await svc.metricValue('prediction_log_written_total')) === 3, 'three entries written');
    const all = await request(svc.app).get('/admin/predictions').set('X-API-Key', ADMIN_KEY).expect(200);
    expect(all.body.predictions.map((p: { request_id: string }) => p.request_id)).toEqual(['r3', 'r2', 'r1']);
    expect(all.body.predictions[0]).toMatchObject({ id: expect.any(String), input: { a: 3, b: 0, c: 0 }, model: { name: 'linear', version: '2' } });
    const two = await request(svc.app).get('/admin/predictions?limit=2').set('X-API-Key', ADMIN_KEY).expect(200);
    expect(two.body.predictions.map((p: { request_id: string }) => p.request_id)).toEqual(['r3', 'r2']);

    for (const bad of ['0', '1001', 'ten', '2.5']) {
      const res = await request(svc.app).get(`/admin/predictions?limit=${bad}`).set('X-API-Key', ADMIN_KEY).expect(400);
      expect(res.body.error.code).toBe('validation_error');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['limit']);
    }
    await request(svc.app).get('/admin/predictions').set('X-API-Key', PREDICT_KEY).expect(403);
    await request(svc.app).get('/admin/predictions').expect(401);
    const doc = await request(svc.app).get('/openapi.json').expect(200);
    expect(doc.body.paths['/admin/predictions'].get.responses).toHaveProperty('200');
  });

  it('works under a hash-tagged prefix (Redis Cluster: every key in one slot)', async () => {
    prefix = `{${uniqueKeyPrefix('tag').slice(0, -1)}}:`;
    const svc = await start();
    await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(200);
    await eventually(async () => (await redis.xlen(`${prefix}predictions:test`)) === 1, 'the entry under the hash-tagged key');
    expect(prefix).toMatch(/^\{tag:[0-9a-f-]{36}\}:$/);
  });

  it('writes what it still holds when the service stops', async () => {
    const svc = await start({ PREDICTION_LOG_BATCH: '7' });
    const instances = Array.from({ length: 50 }, (_, i) => ({ a: 0, b: i, c: 0 }));
    await request(svc.app).post('/v1/predict/batch').send({ instances }).expect(200);
    await svc.stop(); // no wait for the background writes: stop() must finish them
    expect(await redis.xlen(`${prefix}predictions:test`)).toBe(50);
    expect(await svc.metricValue('prediction_log_dropped_total')).toBe(0);
  });
});

describe('prediction log off', () => {
  it('records nothing, answers /admin/predictions with 404, and /health has no redis check', async () => {
    const svc = await startTestService({ predictor: linearPredictor });
    try {
      expect(svc.predictionLog).toBeUndefined();
      await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(200);
      const res = await request(svc.app).get('/admin/predictions').expect(404);
      expect(res.body.error.code).toBe('prediction_log_disabled');
      const health = await request(svc.app).get('/health').expect(200);
      expect(health.body.checks).toEqual({});
    } finally {
      await svc.stop();
    }
  });
});

describe('prediction log through a Redis outage (a private redis-server, stopped and restarted)', () => {
  let server: TestRedisServer;
  let svc: TestService | undefined;
  beforeAll(async () => {
    server = await TestRedisServer.start();
  });
  afterEach(async () => {
    await svc?.stop();
    svc = undefined;
    await server.start().catch(() => undefined); // running again for the next test
  });
  afterAll(() => server.stop());
  const track = (s: TestService) => (svc = s);

  it('keeps answering, counts drops past the buffer, shows degraded health, and resumes when Redis returns', async () => {
    const svc = await startTestService({
      predictor: linearPredictor,
      env: { LOG_LEVEL: 'info', REDIS_URL: server.url, REDIS_KEY_PREFIX: 'outage:', PREDICTION_LOG: 'on', JOBS: 'off', PREDICTION_LOG_BUFFER: '5', PREDICTION_LOG_BATCH: '2' },
    });
    track(svc);
    await eventually(() => svc.redis?.ready === true, 'the connection');
    await request(svc.app).post('/v1/predict').set('X-Request-ID', 'before').send({ a: 0, b: 0, c: 0 }).expect(200);
    await eventually(async () => (await svc.metricValue('prediction_log_written_total')) === 1, 'the first entry written');
    const health = await request(svc.app).get('/health').expect(200);
    expect(health.body).toMatchObject({ status: 'ok', checks: { redis: 'ok' } });

    await server.stop('SIGKILL');
    await eventually(() => svc.redis?.ready === false, 'the connection to notice the outage');
    for (let i = 0; i < 20; i++) {
      await request(svc.app).post('/v1/predict').set('X-Request-ID', `down-${i}`).send({ a: 0, b: i, c: 0 }).expect(200);
    }
    const batch = await request(svc.app).post('/v1/predict/batch').send({ instances: [{ a: 1, b: 1, c: 1 }] }).expect(200);
    expect(batch.body.succeeded).toBe(1);
    // 21 recorded while down, 5 kept: the 16 oldest dropped.
    expect(await svc.metricValue('prediction_log_dropped_total', { reason: 'buffer_full' })).toBe(16);
    expect(await svc.metricValue('prediction_log_buffer_entries')).toBe(5);
    const degraded = await request(svc.app).get('/health').expect(200);
    expect(degraded.body).toMatchObject({ status: 'degraded', checks: { redis: 'degraded' } });
    await request(svc.app).get('/health/ready').expect(200);
    const unreadable = await request(svc.app).get('/admin/predictions').expect(503);
    expect(unreadable.body.error.code).toBe('prediction_log_unavailable');
    const outageLines = svc.logs.lines.filter((l) => l['message'] === 'redis unavailable; reconnecting in the background');
    expect(outageLines).toHaveLength(1);

    // A new, empty Redis on the same port: the buffered five and what follows are written to it.
    await server.start();
    await eventually(() => svc.redis?.ready === true, 'the connection to come back', 20_000);
    // The buffered five are written on reconnection, without waiting for a new prediction to come along.
    await eventually(async () => (await svc.metricValue('prediction_log_written_total')) === 6, 'the buffered entries written');
    await request(svc.app).post('/v1/predict').set('X-Request-ID', 'after').send({ a: 1, b: 1, c: 1 }).expect(200);
    await eventually(async () => (await svc.metricValue('prediction_log_written_total')) === 7, 'the buffered and the new entries written');
    const newest = await request(svc.app).get('/admin/predictions').expect(200);
    expect(newest.body.predictions.map((p: { request_id: string }) => p.request_id)).toEqual([
      'after',
      expect.any(String), // the batch instance (its request id is generated)
      'down-19',
      'down-18',
      'down-17',
      'down-16',
    ]);
    expect(newest.body.predictions[1].index).toBe(0);
    expect(await svc.metricValue('prediction_log_buffer_entries')).toBe(0);
    const back = await request(svc.app).get('/health').expect(200);
    expect(back.body).toMatchObject({ status: 'ok', checks: { redis: 'ok' } });
    expect(svc.logs.lines.filter((l) => l['message'] === 'redis available again')).toHaveLength(1);
  });

  it('keeps answering while Redis hangs (SIGSTOP): writes time out, entries wait, and are written once it thaws', async () => {
    const svc = await startTestService({
      predictor: linearPredictor,
      env: { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'hang:', PREDICTION_LOG: 'on', JOBS: 'off', PREDICTION_LOG_BUFFER: '100' },
    });
    track(svc);
    await eventually(() => svc.redis?.ready === true, 'the connection');
    server.pause();
    try {
      for (let i = 0; i < 10; i++) await request(svc.app).post('/v1/predict').send({ a: 0, b: i, c: 0 }).expect(200);
      // The write in flight cannot finish while Redis is frozen: nothing is written yet, nothing is lost.
      expect(await svc.metricValue('prediction_log_written_total')).toBe(0);
      expect(await svc.metricValue('prediction_log_dropped_total')).toBe(0);
      // The write times out (1 s) while Redis is frozen; its entries go back to the buffer (not lost: see below).
      await eventually(() => svc.logs.lines.some((l) => l['message'] === 'prediction log write failed; entries kept in memory and retried'), 'a write to time out');
    } finally {
      server.resume();
    }
    await eventually(async () => (await svc.metricValue('prediction_log_written_total')) === 10, 'all ten written after the thaw', 20_000);
  });
});
