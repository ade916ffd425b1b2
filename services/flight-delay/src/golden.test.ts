import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { GoldenFile } from '@predict/serving';
import { startTestService, type TestService } from '@predict/serving/testing';
import request from 'supertest';
import { createApp } from './app';
import { flightDelayPredictor } from './predictor';

const MODEL_DIR = path.resolve(__dirname, '../model');

type GoldenRow = GoldenFile['rows'][number] & { probability_delayed: number; expected_delay_minutes: number };

/**
 * Golden parity: held-out June 2001 flights, as raw request fields, with the outputs of the fitted XGBoost
 * models in Python. Served through this service's own feature code and ONNX graph, every output must match
 * to 1e-5 (relative to max(1, |value|), which is absolute for probabilities).
 */
describe.each(readdirSync(MODEL_DIR).filter((d) => /^\d+$/.test(d)))('golden parity of model version %s', (version) => {
  const golden = JSON.parse(readFileSync(path.join(MODEL_DIR, version, 'golden.json'), 'utf8')) as {
    tolerance: number;
    rows: GoldenRow[];
  };
  let svc: TestService;
  beforeAll(async () => {
    // Load without the start-up golden check, so this test is the one that proves parity.
    svc = await startTestService({ predictor: flightDelayPredictor, createApp, env: { MODEL_VERSION: version, MODEL_VERIFY_GOLDEN: 'false' } });
  });
  afterAll(() => svc.stop());

  it('has a few hundred held-out rows at 1e-5', () => {
    expect(golden.rows.length).toBeGreaterThanOrEqual(200);
    expect(golden.tolerance).toBeLessThanOrEqual(1e-5);
  });

  it('reproduces the fitted model through the HTTP API', async () => {
    const res = await request(svc.app).post('/v1/predict/batch').send({ instances: golden.rows.map((r) => r.input) }).expect(200);
    expect(res.body.failed).toBe(0);
    let worst = 0;
    golden.rows.forEach((row, i) => {
      const got = res.body.predictions[i] as { probability_delayed: number; expected_delay_minutes: number };
      for (const key of ['probability_delayed', 'expected_delay_minutes'] as const) {
        const diff = Math.abs(got[key] - row[key]) / Math.max(1, Math.abs(row[key]));
        worst = Math.max(worst, diff);
        if (!(diff <= golden.tolerance)) throw new Error(`row ${i} ${key}: served ${got[key]}, fitted model ${row[key]}`);
      }
    });
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  it('would catch a drifted model: a perturbed expectation fails the comparison', async () => {
    const perturbed = { ...golden, rows: golden.rows.slice(0, 5).map((r) => ({ ...r, probability_delayed: r.probability_delayed + 1e-3 })) };
    const result = await svc.runtime.model().compareGolden(perturbed);
    expect(result.failures).toHaveLength(5);
    const exact = await svc.runtime.model().compareGolden(golden);
    expect(exact.failures).toHaveLength(0);
  });
});
