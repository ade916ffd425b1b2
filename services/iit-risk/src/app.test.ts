import { createHmac } from 'node:crypto';
import { connectTestRedis, deleteKeys, eventually, testRedisUrl, TestRedisServer, uniqueKeyPrefix, type TestService } from '@predict/serving/testing';
import { Redis as IORedis, type Redis } from 'ioredis';
import request from 'supertest';
import { COLUMN, FEATURE_NAMES } from './features';
import { SERVED_VERSION, TEST_HMAC_KEY, goldenRows, startIitService } from './service.test-support';

/** A distinctive id: it must never show up in a log line, a metric, an error or the prediction log. */
const PATIENT = 'PT-Zq7-secret-4821';
const rows = goldenRows();
const features = (i: number) => (rows[i] as (typeof rows)[number]).input.features;
const PREDICT_KEY = 'predict-key-value-aaaaaaaaaaaaaaaa';
const ADMIN_KEY = 'admin-key-value-bbbbbbbbbbbbbbbbbb';

describe('iit-risk over HTTP, on a real Redis', () => {
  let redis: Redis;
  let prefix: string;
  let service: TestService;
  const auth = { 'X-API-Key': PREDICT_KEY };
  const admin = { 'X-API-Key': ADMIN_KEY };

  beforeAll(async () => {
    redis = await connectTestRedis();
    prefix = uniqueKeyPrefix('iit');
    service = await startIitService({
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      FEATURE_TTL_DAYS: '2',
      API_KEYS_PREDICT: `clinic:${PREDICT_KEY}`,
      API_KEYS_ADMIN: `ops:${ADMIN_KEY}`,
      PREDICTION_LOG: 'on',
      ACCESS_LOG: 'true',
      LOG_LEVEL: 'debug',
    });
    // The Redis connection starts in the background.
    await waitForStore();
  });

  afterAll(async () => {
    await service.stop();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  async function waitForStore(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const res = await request(service.app).get('/v1/patients/warm-up/features').set(auth);
      if (res.status === 404) return;
      if (Date.now() > deadline) throw new Error(`feature store never answered: ${res.status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('stores, reads back, retains for FEATURE_TTL_DAYS and deletes a person’s features', async () => {
    await request(service.app).put(`/v1/patients/${PATIENT}/features`).set(auth).send(features(0)).expect(204);
    const got = await request(service.app).get(`/v1/patients/${PATIENT}/features`).set(auth).expect(200);
    expect(got.body).toEqual({ features: features(0) });
    const ttl = await redis.pttl(`${prefix}iit-risk:features:${PATIENT}`);
    expect(ttl).toBeGreaterThan(86_400_000);
    expect(ttl).toBeLessThanOrEqual(2 * 86_400_000);
    await request(service.app).delete(`/v1/patients/${PATIENT}/features`).set(auth).expect(204);
    const gone = await request(service.app).get(`/v1/patients/${PATIENT}/features`).set(auth).expect(404);
    expect(gone.body.error.code).toBe('patient_not_found');
    await request(service.app).delete(`/v1/patients/${PATIENT}/features`).set(auth).expect(404);
  });

  it('answers a stored person exactly as the same features inline, with band, top factors and model', async () => {
    await request(service.app).put(`/v1/patients/${PATIENT}/features`).set(auth).send(features(1)).expect(204);
    const stored = await request(service.app).post('/v1/predict').set(auth).send({ patient_id: PATIENT }).expect(200);
    const inline = await request(service.app).post('/v1/predict').set(auth).send({ features: features(1) }).expect(200);
    expect(stored.body).toEqual(inline.body);
    expect(Math.abs(stored.body.risk_score - (rows[1] as (typeof rows)[number]).risk)).toBeLessThanOrEqual(1e-5);
    expect(['low', 'medium', 'high']).toContain(stored.body.risk_band);
    expect(stored.body.model).toEqual({ name: 'iit-risk', version: SERVED_VERSION });
    // Top factors: the largest positive golden contributions, largest first, with the values the model saw.
    const contributions = (rows[1] as (typeof rows)[number]).contributions.slice(0, FEATURE_NAMES.length);
    const expected = contributions
      .map((c, f) => ({ f, c }))
      .filter(({ c }) => c > 0)
      .sort((a, b) => b.c - a.c)
      .slice(0, 3);
    expect(stored.body.top_factors.map((t: { feature: string }) => t.feature)).toEqual(expected.map(({ f }) => FEATURE_NAMES[f]));
    stored.body.top_factors.forEach((t: { contribution: number }, k: number) => expect(Math.abs(t.contribution - (expected[k]?.c ?? NaN))).toBeLessThanOrEqual(1e-5));
    const months = stored.body.top_factors.find((t: { feature: string }) => t.feature === 'months_on_art');
    if (months) expect(months.value).toBeCloseTo(features(1).months_on_art, 4);
    expect(COLUMN.months_on_art).toBe(2);
  });

  it('looks a whole batch up in one MGET and answers unknown people in place with 404', async () => {
    // A private redis-server, so its command statistics count this service's commands only (MONITOR on the
    // shared Redis breaks when other suites write to it at the same moment).
    const server = await TestRedisServer.start();
    const own = await startIitService({ REDIS_URL: server.url, JOBS: 'off', API_KEYS_PREDICT: `clinic:${PREDICT_KEY}` });
    const stats = new IORedis(server.url, { maxRetriesPerRequest: 1 });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `batch-${i}`);
      await eventually(async () => (await request(own.app).put(`/v1/patients/${ids[0]}/features`).set(auth).send(features(0))).status === 204, 'the private store to answer');
      for (const [i, id] of ids.entries()) await request(own.app).put(`/v1/patients/${id}/features`).set(auth).send(features(i)).expect(204);
      await stats.config('RESETSTAT');
      const res = await request(own.app)
        .post('/v1/predict/batch')
        .set(auth)
        .send({ instances: [...ids.map((patient_id) => ({ patient_id })), { patient_id: 'nobody-here' }, { features: features(30) }] })
        .expect(200);
      expect(res.body.succeeded).toBe(21);
      expect(res.body.predictions[20].error.code).toBe('patient_not_found');
      ids.forEach((_id, i) => expect(Math.abs(res.body.predictions[i].risk_score - (rows[i] as (typeof rows)[number]).risk)).toBeLessThanOrEqual(1e-5));
      // 21 lookups, one round trip: one MGET, no GET.
      const calls = (name: string, info: string) => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      const info = await stats.info('commandstats');
      expect({ mget: calls('mget', info), get: calls('get', info) }).toEqual({ mget: 1, get: 0 });
    } finally {
      stats.disconnect();
      await own.stop();
      await server.stop();
    }
  });

  it('shares audit script calls between concurrent predictions, each request audited exactly once', async () => {
    // A private redis-server: its command statistics count this service's script calls only.
    const server = await TestRedisServer.start();
    const own = await startIitService({ REDIS_URL: server.url, REDIS_KEY_PREFIX: 'iit-group:', JOBS: 'off', API_KEYS_PREDICT: `clinic:${PREDICT_KEY}` });
    const stats = new IORedis(server.url, { maxRetriesPerRequest: 1 });
    try {
      await eventually(async () => (await request(own.app).post('/v1/predict').set(auth).send({ features: features(0) })).status === 200, 'the private audit log to answer');
      await stats.config('RESETSTAT');
      const n = 40;
      // Request 0's id is sent twice at once (a proxy's retry racing the original): it is audited once.
      const ids = [...Array.from({ length: n }, (_, i) => `concurrent-${i}`), 'concurrent-0'];
      const answers = await Promise.all(ids.map((id, i) => request(own.app).post('/v1/predict').set(auth).set('X-Request-ID', id).send({ features: features(i % 20) })));
      answers.forEach((res) => expect(res.status).toBe(200));
      const info = await stats.info('commandstats');
      const calls = (name: string) => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      expect(calls('evalsha') + calls('eval')).toBeLessThan(n);
      const audited = (await stats.xrange('iit-group:iit-risk:audit', '-', '+')).map(([, fields]) => (JSON.parse(fields[1] ?? '{}') as { request_id: string }).request_id);
      expect(audited.filter((id) => id.startsWith('concurrent-')).sort()).toEqual(Array.from({ length: n }, (_, i) => `concurrent-${i}`).sort());
      expect(await own.metricValue('iit_audit_duplicate_requests_total')).toBe(1);
    } finally {
      stats.disconnect();
      await own.stop();
      await server.stop();
    }
  });

  it('refuses bad input with a 400 naming the field, never echoing the id', async () => {
    const badId = await request(service.app).get('/v1/patients/bad%20id%21/features').set(auth).expect(400);
    expect(badId.body.error.details[0].path).toBe('patient_id');
    expect(JSON.stringify(badId.body)).not.toContain('bad id');
    const long = await request(service.app).put(`/v1/patients/${'x'.repeat(65)}/features`).set(auth).send(features(0)).expect(400);
    expect(long.body.error.details[0].path).toBe('patient_id');
    const field = await request(service.app).put(`/v1/patients/${PATIENT}/features`).set(auth).send({ ...features(0), who_stage: 7 }).expect(400);
    expect(field.body.error.details).toEqual([expect.objectContaining({ path: 'who_stage' })]);
    const extra = await request(service.app).put(`/v1/patients/${PATIENT}/features`).set(auth).send({ ...features(0), name: 'Jane' }).expect(400);
    expect(JSON.stringify(extra.body.error.details)).toContain('name');
    const both = await request(service.app).post('/v1/predict').set(auth).send({ patient_id: PATIENT, features: features(0) }).expect(400);
    expect(both.body.error.message).toContain('exactly one of patient_id');
    const neither = await request(service.app).post('/v1/predict').set(auth).send({}).expect(400);
    expect(neither.body.error.code).toBe('validation_error');
    const inline = await request(service.app).post('/v1/predict').set(auth).send({ features: { ...features(0), sex: 'x' } }).expect(400);
    expect(inline.body.error.details[0].path).toBe('features.sex');
    await request(service.app).post('/v1/predict').send({ features: features(0) }).expect(401);
  });

  it('writes one audit record per prediction with an HMAC of the id, never the id or features, once per request id', async () => {
    await request(service.app).put(`/v1/patients/${PATIENT}/features`).set(auth).send(features(2)).expect(204);
    const requestId = `retry-${Date.now()}`;
    const first = await request(service.app).post('/v1/predict').set(auth).set('X-Request-ID', requestId).send({ patient_id: PATIENT }).expect(200);
    await request(service.app).post('/v1/predict').set(auth).set('X-Request-ID', requestId).send({ patient_id: PATIENT }).expect(200);
    await request(service.app).get('/admin/audit').set(auth).expect(403);
    const audit = await request(service.app).get('/admin/audit?limit=1000').set(admin).expect(200);
    const mine = audit.body.records.filter((r: { request_id: string }) => r.request_id === requestId);
    expect(mine).toEqual([
      {
        id: expect.any(String),
        at: expect.any(String),
        request_id: requestId,
        index: 0,
        key_id: 'clinic',
        patient_hmac: createHmac('sha256', TEST_HMAC_KEY).update(PATIENT).digest('hex'),
        source: 'store',
        model: 'iit-risk',
        model_version: SERVED_VERSION,
        risk_score: first.body.risk_score,
        risk_band: first.body.risk_band,
      },
    ]);
    const raw = JSON.stringify(await redis.xrange(`${prefix}iit-risk:audit`, '-', '+'));
    expect(raw).not.toContain(PATIENT);
    expect(raw).not.toContain('months_on_art');
    expect(raw).not.toContain(PREDICT_KEY);
    await request(service.app).get('/admin/audit?limit=0').set(admin).expect(400);
  });

  it('keeps patient ids and features out of every log line, metric label, error and the prediction log', async () => {
    await request(service.app).post('/v1/predict').set(auth).send({ patient_id: 'nobody-at-all' }).expect(404);
    const metrics = await request(service.app).get('/metrics').set(admin).expect(200);
    const predictionLog = JSON.stringify(await redis.xrange(`${prefix}predictions:test`, '-', '+'));
    expect(predictionLog).toContain('[REDACTED]');
    const logs = JSON.stringify(service.logs.lines);
    expect(service.logs.lines.some((l) => l['route'] === '/v1/patients/:patient_id/features')).toBe(true);
    for (const text of [logs, metrics.text, predictionLog]) {
      expect(text).not.toContain(PATIENT);
      expect(text).not.toContain('nobody-at-all');
      expect(text).not.toContain('batch-1');
      expect(text).not.toContain('months_on_art');
    }
  });
});
