/**
 * Parity check of a trained version: golden.json inputs -> featurize (src/features.ts, the serving code) ->
 * model.onnx in onnxruntime-node, against the XGBoost outputs recorded by fit.py.
 *
 *   node --conditions=development --import tsx training/check-parity.ts [version]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { FEATURE_COUNT, featurize, parseFeatureTables, type FlightInput } from '../src/features';

interface Golden {
  model_version: string;
  tolerance: number;
  rows: Array<{ input: FlightInput; probability_delayed: number; expected_delay_minutes: number }>;
}

async function main(): Promise<void> {
  const version = process.argv[2] ?? '1';
  const dir = path.resolve(__dirname, '..', 'model', version);
  const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
  const tables = parseFeatureTables(JSON.parse(readFileSync(path.join(dir, 'features.json'), 'utf8')));
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));

  const n = golden.rows.length;
  const x = new Float32Array(n * FEATURE_COUNT);
  golden.rows.forEach((row, i) => featurize(row.input, tables, x, i * FEATURE_COUNT));

  const score = async (from: number, to: number): Promise<[Float32Array, Float32Array]> => {
    const input = new ort.Tensor('float32', x.subarray(from * FEATURE_COUNT, to * FEATURE_COUNT), [to - from, FEATURE_COUNT]);
    const out = await session.run({ features: input });
    return [out.probability_delayed?.data as Float32Array, out.expected_delay_minutes?.data as Float32Array];
  };
  const [batchP, batchM] = await score(0, n);
  const worst = { p: 0, m: 0, mRel: 0, singleVsBatch: 0 };
  for (let i = 0; i < n; i++) {
    const row = golden.rows[i];
    if (row === undefined) continue;
    const [p1, m1] = await score(i, i + 1);
    const p = batchP[i] ?? NaN;
    const m = batchM[i] ?? NaN;
    worst.p = Math.max(worst.p, Math.abs(p - row.probability_delayed));
    worst.m = Math.max(worst.m, Math.abs(m - row.expected_delay_minutes));
    worst.mRel = Math.max(worst.mRel, Math.abs(m - row.expected_delay_minutes) / Math.max(1, Math.abs(row.expected_delay_minutes)));
    worst.singleVsBatch = Math.max(worst.singleVsBatch, Math.abs((p1[0] ?? NaN) - p), Math.abs((m1[0] ?? NaN) - m));
  }

  // Wider check when the training data is around: every June row of the test matrix against XGBoost.
  const data = path.resolve(__dirname, 'data');
  let matrix = { rows: 0, p: 0, m: 0 };
  if (existsSync(path.join(data, 'test.predictions.f32'))) {
    const floats = (file: string): Float32Array => {
      const b = readFileSync(path.join(data, file));
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    };
    const xt = floats('test.features.f32');
    const want = floats('test.predictions.f32');
    const rows = xt.length / FEATURE_COUNT;
    if (want.length !== 2 * rows) throw new Error('test.predictions.f32 does not match test.features.f32: rerun fit.py');
    for (let from = 0; from < rows; from += 50_000) {
      const to = Math.min(rows, from + 50_000);
      const input = new ort.Tensor('float32', xt.subarray(from * FEATURE_COUNT, to * FEATURE_COUNT), [to - from, FEATURE_COUNT]);
      const out = await session.run({ features: input });
      const p = out.probability_delayed?.data as Float32Array;
      const m = out.expected_delay_minutes?.data as Float32Array;
      for (let i = from; i < to; i++) {
        matrix.p = Math.max(matrix.p, Math.abs((p[i - from] ?? NaN) - (want[2 * i] ?? NaN)));
        matrix.m = Math.max(matrix.m, Math.abs((m[i - from] ?? NaN) - (want[2 * i + 1] ?? NaN)));
      }
    }
    matrix = { ...matrix, rows };
  }
  await session.release();

  console.log(
    `parity of model ${version} on ${n} golden rows: max |diff| probability ${worst.p.toExponential(3)}, ` +
      `minutes ${worst.m.toExponential(3)} (relative ${worst.mRel.toExponential(3)}), ` +
      `single-row vs batch ${worst.singleVsBatch.toExponential(3)}; tolerance ${golden.tolerance}`,
  );
  if (matrix.rows > 0) {
    console.log(
      `parity on all ${matrix.rows} test-matrix rows: max |diff| probability ${matrix.p.toExponential(3)}, minutes ${matrix.m.toExponential(3)}`,
    );
  }
  const ok = (d: number): boolean => d <= golden.tolerance;
  if (!(ok(worst.p) && ok(worst.m) && ok(worst.singleVsBatch) && ok(matrix.p) && ok(matrix.m))) {
    console.error('PARITY FAILED');
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
