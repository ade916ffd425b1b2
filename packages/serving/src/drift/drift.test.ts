import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { LINEAR_MODEL_DIR, linearPredictor } from '../testing/linear-predictor';
import { startTestService } from '../testing/test-service';
import { DriftMonitor } from './drift-monitor';
import { psi, type DriftReference } from './drift-reference';

/** A reference of standard-normal columns binned at deciles, as a card would carry it. */
const DECILES = [-1.2816, -0.8416, -0.5244, -0.2533, 0, 0.2533, 0.5244, 0.8416, 1.2816];
const column = (name: string, index: number, missing = 0) => ({ name, index, edges: DECILES, proportions: DECILES.concat(0).map(() => (1 - missing) / 10), missing });
const reference: DriftReference = { input: 'x', features: [column('a', 0), column('b', 1), column('c', 2, 0.1)] };

/** Seeded standard normals (mulberry32 + Box-Muller): the same rows on every run. */
function normals(seed: number): () => number {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

describe('psi', () => {
  it('is 0 for the same shares and grows with the shift', () => {
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
    const small = psi([0.25, 0.25, 0.25, 0.25], [0.3, 0.25, 0.25, 0.2]);
    const large = psi([0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]);
    expect(small).toBeGreaterThan(0);
    expect(large).toBeGreaterThan(0.25);
    expect(small).toBeLessThan(0.1);
  });
});

describe('DriftMonitor', () => {
  const settings = { windowRows: 2000, minRows: 500, threshold: 0.25 };

  it('stays low on the reference distribution, rises on a shifted one, and the window slides back', () => {
    const monitor = new DriftMonitor(reference, settings);
    const z = normals(7);
    const rows = (n: number, shift: number) => Float32Array.from({ length: n * 3 }, (_, i) => (i % 3 === 2 && i % 30 === 2 ? NaN : z() + (i % 3 === 0 ? shift : 0)));
    monitor.observe(rows(400, 0), 400, 3);
    expect(monitor.snapshot()).toEqual({ rows: 400, psi: new Map(), detected: false }); // below minRows: nothing reported
    monitor.observe(rows(1600, 0), 1600, 3);
    const calm = monitor.snapshot();
    expect(calm.rows).toBe(2000);
    for (const value of calm.psi.values()) expect(value).toBeLessThan(0.05);
    expect(calm.detected).toBe(false);
    monitor.observe(rows(2000, 1.5), 2000, 3); // feature a shifted by 1.5 standard deviations: the whole window
    const shifted = monitor.snapshot();
    expect(monitor.snapshot()).toBe(shifted); // no rows since: the same computation, not a new one per gauge
    expect(shifted.psi.get('a')).toBeGreaterThan(0.25);
    expect(shifted.psi.get('b')).toBeLessThan(0.05);
    expect(shifted.detected).toBe(true);
    monitor.observe(rows(2000, 0), 2000, 3); // the window slides back to the reference
    expect(monitor.snapshot().detected).toBe(false);
  });
});

describe('drift metrics of a served model', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'drift-'));
    await cp(LINEAR_MODEL_DIR, dir, { recursive: true });
    // The card is not among the hashed files: adding a reference keeps each version valid.
    for (const version of await readdir(dir)) {
      const card = path.join(dir, version, 'model.json');
      await writeFile(card, JSON.stringify({ ...JSON.parse(await readFile(card, 'utf8')), drift_reference: { input: 'x', features: [column('a', 0), column('b', 1), column('c', 2)] } }));
    }
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('exports model_feature_drift_psi{model,feature} and model_drift_detected{model} for served rows only', async () => {
    const service = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, DRIFT_WINDOW_ROWS: '600', DRIFT_MIN_ROWS: '600', DRIFT_PSI_THRESHOLD: '0.25' } });
    try {
      const z = normals(11);
      const send = async (shift: number) => {
        for (let k = 0; k < 6; k++) {
          const instances = Array.from({ length: 100 }, () => ({ a: z() + shift, b: z(), c: z() }));
          await request(service.app).post('/v1/predict/batch').send({ instances }).expect(200);
        }
      };
      // Warm-up and golden rows are not served rows: nothing is reported yet.
      let text = (await request(service.app).get('/metrics').expect(200)).text;
      expect(text).toContain('model_drift_detected{model="linear"} 0');
      expect(text).not.toContain('model_feature_drift_psi{');
      await send(0);
      expect(await service.metricValue('model_feature_drift_psi', { model: 'linear', feature: 'a' })).toBeLessThan(0.1);
      expect(await service.metricValue('model_drift_detected', { model: 'linear' })).toBe(0);
      await send(2);
      expect(await service.metricValue('model_feature_drift_psi', { model: 'linear', feature: 'a' })).toBeGreaterThan(0.25);
      expect(await service.metricValue('model_feature_drift_psi', { model: 'linear', feature: 'b' })).toBeLessThan(0.1);
      text = (await request(service.app).get('/metrics').expect(200)).text;
      expect(text).toContain('model_drift_detected{model="linear"} 1');
    } finally {
      await service.stop();
    }
  });
});
