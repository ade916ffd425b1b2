import { createHmac } from 'node:crypto';
import { connectTestRedis, deleteKeys, eventually, testRedisUrl, uniqueKeyPrefix, type TestService } from '@predict/serving/testing';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { TEST_HMAC_KEY, goldenRows, startIitService } from './service.test-support';

/**
 * The facility index of the feature store (kept with each record by PUT/DELETE, pruned of expired members),
 * the HMAC resolve route and the facility job submission, on a real Redis.
 */

const rows = goldenRows();
const features = (i: number) => (rows[i] as (typeof rows)[number]).input.features;
const hmac = (id: string) => createHmac('sha256', TEST_HMAC_KEY).update(id).digest('hex');

describe('facility index', () => {
  let redis: Redis;
  let prefix: string;
  let jobsPrefix: string;
  let service: TestService;
  const index = (facility: string) => `${prefix}iit-risk:facility:${facility}`;

  beforeAll(async () => {
    redis = await connectTestRedis();
    prefix = uniqueKeyPrefix('iit-fac');
    jobsPrefix = `{${uniqueKeyPrefix('iit-fac-jobs').replace(/[{}:]/g, '')}}`;
    service = await startIitService({ REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, JOBS_PREFIX: jobsPrefix, FEATURE_TTL_DAYS: '3', LOG_LEVEL: 'debug', ACCESS_LOG: 'true' });
    await eventually(async () => (await request(service.app).get('/v1/patients/warm-up/features')).status === 404, 'the feature store', 15_000);
  });

  afterAll(async () => {
    await service.stop();
    await deleteKeys(redis, prefix);
    await deleteKeys(redis, jobsPrefix);
    redis.disconnect();
  });

  it('keeps each facility’s roster with the records: PUT adds (scored by expiry), moves, DELETE removes', async () => {
    for (const [i, id] of ['FA-1', 'FA-2', 'FA-3'].entries()) {
      await request(service.app).put(`/v1/patients/${id}/features`).send({ ...features(i), facility_id: 'CLINIC-A' }).expect(204);
    }
    await request(service.app).put('/v1/patients/FB-1/features').send({ ...features(3), facility_id: 'CLINIC-B' }).expect(204);
    await request(service.app).put('/v1/patients/NO-FAC/features').send(features(4)).expect(204);

    expect(await redis.zrange(index('CLINIC-A'), '0', '-1')).toEqual(expect.arrayContaining(['FA-1', 'FA-2', 'FA-3']));
    expect(await redis.zcard(index('CLINIC-A'))).toBe(3);
    // Scored by the record's expiry; the index lives as long as its newest member.
    const score = Number(await redis.zscore(index('CLINIC-A'), 'FA-1'));
    const recordTtl = await redis.pttl(`${prefix}iit-risk:features:FA-1`);
    expect(Math.abs(score - (Date.now() + recordTtl))).toBeLessThan(60_000);
    expect(await redis.pttl(index('CLINIC-A'))).toBeGreaterThan(2 * 86_400_000);

    const got = await request(service.app).get('/v1/patients/FA-1/features').expect(200);
    expect(got.body).toEqual({ features: features(0), facility_id: 'CLINIC-A' });
    expect((await request(service.app).get('/v1/patients/NO-FAC/features').expect(200)).body).toEqual({ features: features(4) });

    // A transfer: the old roster loses the person in the same script.
    await request(service.app).put('/v1/patients/FA-3/features').send({ ...features(2), facility_id: 'CLINIC-B' }).expect(204);
    expect((await redis.zrange(index('CLINIC-A'), '0', '-1')).sort()).toEqual(['FA-1', 'FA-2']);
    expect((await redis.zrange(index('CLINIC-B'), '0', '-1')).sort()).toEqual(['FA-3', 'FB-1']);
    // Predictions still see the features only (the facility is not a model input).
    const inline = await request(service.app).post('/v1/predict').send({ features: features(2) }).expect(200);
    const stored = await request(service.app).post('/v1/predict').send({ patient_id: 'FA-3' }).expect(200);
    expect(stored.body.risk_score).toBe(inline.body.risk_score);

    await request(service.app).delete('/v1/patients/FA-2/features').expect(204);
    expect(await redis.zrange(index('CLINIC-A'), '0', '-1')).toEqual(['FA-1']);
  });

  it('prunes expired members on read and resolves result HMACs to the ids of the current roster only', async () => {
    // A member whose record Redis has already expired: past score, no record.
    await redis.zadd(index('CLINIC-A'), String(Date.now() - 1000), 'GONE-1');
    const res = await request(service.app)
      .post('/v1/facilities/CLINIC-A/resolve')
      .send({ patient_hmacs: [hmac('FA-1'), hmac('GONE-1'), hmac('FB-1')] })
      .expect(200);
    expect(res.body).toEqual({ patients: [{ patient_hmac: hmac('FA-1'), patient_id: 'FA-1' }] });
    expect(await redis.zscore(index('CLINIC-A'), 'GONE-1')).toBeNull();
  });

  it('refuses a bad facility id or HMAC with a 400 naming the field', async () => {
    const bad = await request(service.app).put('/v1/patients/FA-9/features').send({ ...features(0), facility_id: 'bad id!' }).expect(400);
    expect(JSON.stringify(bad.body.error)).toContain('facility_id');
    const badHmac = await request(service.app).post('/v1/facilities/CLINIC-A/resolve').send({ patient_hmacs: ['FA-1'] }).expect(400);
    expect(JSON.stringify(badHmac.body.error)).toContain('patient_hmacs');
    const badPath = await request(service.app).post('/v1/facilities/bad%20id/jobs').expect(400);
    expect(JSON.stringify(badPath.body.error)).toContain('facility_id');
  });

  it('submits a facility job whose payload names the facility, never a patient', async () => {
    await eventually(() => service.jobs?.redis.ready === true, 'the jobs Redis connection', 20_000);
    const res = await request(service.app).post('/v1/facilities/CLINIC-B/jobs').expect(202);
    const job = await service.jobs?.producer.getJob(res.body.job_id as string);
    expect(job?.data).toMatchObject({ input: { kind: 'source', source: 'facility', params: { facility_id: 'CLINIC-B' } }, submitted_by: 'anonymous' });
    expect(JSON.stringify(job?.data)).not.toMatch(/FA-3|FB-1/);
    const status = await request(service.app).get(`/v1/jobs/${res.body.job_id}`).expect(200);
    expect(['waiting', 'prioritized']).toContain(status.body.state);
  });

  it('keeps patient ids out of every log line', () => {
    const logs = JSON.stringify(service.logs.lines);
    expect(logs).toContain('/v1/facilities/:facility_id/resolve');
    for (const id of ['FA-1', 'FA-2', 'FA-3', 'FB-1', 'NO-FAC', 'GONE-1']) expect(logs).not.toContain(id);
  });
});
