import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

/**
 * python/convert.py checked with the real runtime, without Python: each fixture (written by
 * python/test_convert.py) is a tiny XGBoost model converted to ONNX, with XGBoost's own outputs for inputs
 * that include missing values (null -> NaN). `converter-fixture` is flight-delay's classifier + regressor
 * pair, `regressor-fixture` taxi-eta's single quantized `log_duration` regressor.
 */
interface Fixture {
  feature_count: number;
  tolerance: number;
  outputs: string[];
  rows: Array<{ features: Array<number | null> } & Record<string, unknown>>;
}

const dir = path.join(__dirname, '../fixtures');
const read = (name: string): Fixture => JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as Fixture;

describe.each([
  ['converter-fixture', ['probability_delayed', 'expected_delay_minutes']],
  ['regressor-fixture', ['log_duration']],
])('%s through onnxruntime-node', (name, outputs) => {
  const fixture = read(name);
  let session: ort.InferenceSession;

  beforeAll(async () => {
    session = await ort.InferenceSession.create(path.join(dir, `${name}.onnx`));
  });

  afterAll(async () => {
    await session.release();
  });

  it('has the service contract: features in, the named [batch, 1] outputs out', () => {
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(outputs);
    expect(fixture.outputs).toEqual(outputs);
  });

  it('contains missing values', () => {
    expect(fixture.rows.some((r) => r.features.includes(null))).toBe(true);
  });

  async function run(rows: Fixture['rows']): Promise<Record<string, Float32Array>> {
    const x = Float32Array.from(rows.flatMap((r) => r.features.map((v) => (v === null ? NaN : v))));
    const out = await session.run({ features: new ort.Tensor('float32', x, [rows.length, fixture.feature_count]) });
    return Object.fromEntries(
      outputs.map((o) => {
        const t = out[o];
        if (t === undefined) throw new Error(`missing output ${o}`);
        expect(t.dims).toEqual([rows.length, 1]);
        return [o, t.data as Float32Array];
      }),
    );
  }

  function expectMatches(got: Record<string, Float32Array>, rows: Fixture['rows']): void {
    rows.forEach((row, i) => {
      for (const o of outputs) {
        expect(Math.abs((got[o]?.[i] ?? NaN) - Number(row[o]))).toBeLessThanOrEqual(fixture.tolerance);
      }
    });
  }

  it('matches XGBoost on a batch', async () => {
    expectMatches(await run(fixture.rows), fixture.rows);
  });

  it('matches XGBoost one row at a time', async () => {
    for (const row of fixture.rows) expectMatches(await run([row]), [row]);
  });
});
