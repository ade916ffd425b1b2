import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

/**
 * training/convert.py checked with the real runtime, without Python: the fixture (written by
 * training/test_convert.py) is a tiny XGBoost classifier + regressor converted to ONNX, with XGBoost's own
 * outputs for inputs that include missing values (null -> NaN).
 */
interface Fixture {
  feature_count: number;
  tolerance: number;
  rows: Array<{ features: Array<number | null>; probability_delayed: number; expected_delay_minutes: number }>;
}

const dir = path.join(__dirname, '../training/fixtures');
const fixture = JSON.parse(readFileSync(path.join(dir, 'converter-fixture.json'), 'utf8')) as Fixture;

describe('converter fixture through onnxruntime-node', () => {
  let session: ort.InferenceSession;

  beforeAll(async () => {
    session = await ort.InferenceSession.create(path.join(dir, 'converter-fixture.onnx'));
  });

  afterAll(async () => {
    await session.release();
  });

  it('has the service contract: features in, probability_delayed and expected_delay_minutes out', () => {
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['probability_delayed', 'expected_delay_minutes']);
  });

  it('contains missing values', () => {
    expect(fixture.rows.some((r) => r.features.includes(null))).toBe(true);
  });

  async function run(rows: Fixture['rows']): Promise<{ p: Float32Array; m: Float32Array; dims: readonly number[] }> {
    const x = Float32Array.from(rows.flatMap((r) => r.features.map((v) => (v === null ? NaN : v))));
    const out = await session.run({ features: new ort.Tensor('float32', x, [rows.length, fixture.feature_count]) });
    const p = out.probability_delayed;
    const m = out.expected_delay_minutes;
    if (p === undefined || m === undefined) throw new Error('missing output');
    expect(m.dims).toEqual(p.dims);
    return { p: p.data as Float32Array, m: m.data as Float32Array, dims: p.dims };
  }

  it('matches XGBoost on a batch', async () => {
    const { p, m, dims } = await run(fixture.rows);
    expect(dims).toEqual([fixture.rows.length, 1]);
    fixture.rows.forEach((row, i) => {
      expect(Math.abs((p[i] ?? NaN) - row.probability_delayed)).toBeLessThanOrEqual(fixture.tolerance);
      expect(Math.abs((m[i] ?? NaN) - row.expected_delay_minutes)).toBeLessThanOrEqual(fixture.tolerance);
    });
  });

  it('matches XGBoost one row at a time', async () => {
    for (const row of fixture.rows) {
      const { p, m } = await run([row]);
      expect(Math.abs((p[0] ?? NaN) - row.probability_delayed)).toBeLessThanOrEqual(fixture.tolerance);
      expect(Math.abs((m[0] ?? NaN) - row.expected_delay_minutes)).toBeLessThanOrEqual(fixture.tolerance);
    }
  });
});
