import { TestRedisServer, type TestService } from '@predict/serving/testing';
import request from 'supertest';
import { goldenRows, startIitService } from './service.test-support';

const features = goldenRows()[0]?.input.features;

/** Polls `probe` until it answers `status` (Redis outages are noticed asynchronously), returning that answer. */
async function until(probe: () => Promise<request.Response>, status: number, what: string): Promise<request.Response> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await probe();
    if (res.status === status) return res;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last status ${res.status} ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A private redis-server stopped under the service: store-backed predictions answer 503 naming the feature
 * store either way; inline ones follow AUDIT_REQUIRED (503 audit_unavailable, or answered unaudited and counted).
 */
describe.each([
  ['true', 503],
  ['false', 200],
])('Redis down with AUDIT_REQUIRED=%s', (required, inlineStatus) => {
  let redis: TestRedisServer;
  let service: TestService;

  beforeAll(async () => {
    redis = await TestRedisServer.start();
    service = await startIitService({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'iit-outage:', AUDIT_REQUIRED: required, REDIS_COMMAND_TIMEOUT_MS: '500', LOG_LEVEL: 'debug', ACCESS_LOG: 'true' });
    await request(service.app).put('/v1/patients/P-1/features').send(features);
    await until(() => request(service.app).put('/v1/patients/P-1/features').send(features), 204, 'the store to answer');
    await request(service.app).post('/v1/predict').send({ patient_id: 'P-1' }).expect(200);
    await redis.stop();
  });

  afterAll(async () => {
    await service.stop();
    await redis.stop();
    // Outage lines (Redis unavailable, 503s) never carry the patient id either.
    expect(JSON.stringify(service.logs.lines)).not.toContain('P-1');
  });

  it('answers store-backed predictions 503 with a clear message', async () => {
    const res = await until(() => request(service.app).post('/v1/predict').send({ patient_id: 'P-1' }), 503, 'a 503 for a stored person');
    expect(res.body.error.code).toBe('feature_store_unavailable');
    expect(res.body.error.message).toContain('feature store (Redis) is unavailable');
    expect(res.body.error.message).not.toContain('P-1');
    expect(res.headers['retry-after']).toBeDefined();
    const put = await request(service.app).put('/v1/patients/P-1/features').send(features).expect(503);
    expect(put.body.error.code).toBe('feature_store_unavailable');
  });

  it(`answers inline predictions ${inlineStatus}`, async () => {
    const res = await request(service.app).post('/v1/predict').send({ features }).expect(inlineStatus);
    if (required === 'true') {
      expect(res.body.error.code).toBe('audit_unavailable');
      expect(await service.metricValue('iit_audit_unwritten_total')).toBe(0);
    } else {
      expect(res.body.risk_score).toBeGreaterThan(0);
      expect(await service.metricValue('iit_audit_unwritten_total')).toBe(1);
      // A batch mixing both: the inline instance is answered, the stored one refused in place.
      const batch = await request(service.app).post('/v1/predict/batch').send({ instances: [{ features }, { patient_id: 'P-1' }] }).expect(200);
      expect(batch.body.succeeded).toBe(1);
      expect(batch.body.predictions[1].error.code).toBe('feature_store_unavailable');
      expect(await service.metricValue('iit_audit_unwritten_total')).toBe(2);
    }
  });
});
