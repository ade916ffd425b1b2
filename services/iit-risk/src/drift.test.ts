import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connectTestRedis, deleteKeys, testRedisUrl, uniqueKeyPrefix, type TestService } from '@predict/serving/testing';
import type { Redis } from 'ioredis';
import request from 'supertest';
import type { PatientFeaturesInput } from './schema';
import { SERVED_VERSION, startIitService } from './service.test-support';

/** Held-out SYNTHETIC people (the promotion evaluation set): the training distribution. */
const people = (JSON.parse(readFileSync(path.resolve(__dirname, '../model', SERVED_VERSION, 'evaluation.json'), 'utf8')) as { rows: { input: { features: PatientFeaturesInput } }[] }).rows.map((r) => r.input.features);

describe('drift monitoring of iit-risk (the card carries the training reference)', () => {
  let redis: Redis;
  let prefix: string;
  let service: TestService;

  beforeAll(async () => {
    redis = await connectTestRedis();
    prefix = uniqueKeyPrefix('iit-drift');
    service = await startIitService({ REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, AUDIT_REQUIRED: 'false', DRIFT_WINDOW_ROWS: String(people.length), DRIFT_MIN_ROWS: String(people.length) });
  });

  afterAll(async () => {
    await service.stop();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const serve = async (population: PatientFeaturesInput[]) => {
    for (let i = 0; i < population.length; i += 500) {
      await request(service.app).post('/v1/predict/batch').send({ instances: population.slice(i, i + 500).map((features) => ({ features })) }).expect(200);
    }
  };
  const psi = (feature: string) => service.metricValue('model_feature_drift_psi', { model: 'iit-risk', feature });

  it('stays low on the training distribution and rises when the population shifts', async () => {
    await serve(people);
    for (const feature of ['age_years', 'months_on_art', 'log10_viral_load', 'travel_time_minutes']) expect(await psi(feature)).toBeLessThan(0.1);
    expect(await service.metricValue('model_drift_detected', { model: 'iit-risk' })).toBe(0);
    // A programme enrolling mostly new, young patients far from the facility.
    await serve(people.map((p) => ({ ...p, age_years: 19, months_on_art: 2, travel_time_minutes: 150 })));
    expect(await psi('months_on_art')).toBeGreaterThan(0.25);
    expect(await psi('age_years')).toBeGreaterThan(0.25);
    expect(await psi('who_stage')).toBeLessThan(0.1);
    expect(await service.metricValue('model_drift_detected', { model: 'iit-risk' })).toBe(1);
  });
});
