/**
 * Parity check of a trained version, contributions included: golden.json inputs -> featurize (src/features.ts,
 * the serving code) -> model.onnx in onnxruntime-node, against XGBoost's predict() and
 * predict(pred_contribs=True, approx_contribs=True) recorded by fit.py; then every test row of the matrix
 * (training/data/test.expected.f32). Every element within tolerance x max(1, |expected|).
 *
 *   node --conditions=development --import tsx training/check-parity.ts [version]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readFloat32, runScript } from '@predict/model-tools';
import { FEATURE_COUNT, featurize, type PatientFeatures } from '../src/features';

interface Golden {
  tolerance: number;
  rows: Array<{ input: { features: PatientFeatures }; risk: number; contributions: number[] }>;
}

const WIDTH = 1 + FEATURE_COUNT + 1; // risk, contributions (F + bias)

/** Largest |diff| and rows out of tolerance, for rows of [risk, ...contributions] against ONNX. */
async function compare(session: ort.InferenceSession, x: Float32Array, expected: ArrayLike<number>, tolerance: number) {
  const rows = x.length / FEATURE_COUNT;
  const out = await session.run({ features: new ort.Tensor('float32', x, [rows, FEATURE_COUNT]) });
  const risk = out['risk']?.data as Float32Array;
  const contributions = out['contributions']?.data as Float32Array;
  let maxRisk = 0;
  let maxContribution = 0;
  const failed = new Set<number>();
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < WIDTH; k++) {
      const want = Number(expected[r * WIDTH + k]);
      const got = k === 0 ? Number(risk[r]) : Number(contributions[r * (WIDTH - 1) + k - 1]);
      const diff = Math.abs(got - want);
      if (!(diff <= tolerance * Math.max(1, Math.abs(want)))) failed.add(r);
      if (k === 0) maxRisk = Math.max(maxRisk, diff);
      else maxContribution = Math.max(maxContribution, diff);
    }
  }
  return { rows, failures: failed.size, maxRisk, maxContribution };
}

runScript(async () => {
  const version = process.argv[2] ?? '1';
  const dir = path.resolve(__dirname, '..', 'model', version);
  const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
  const x = new Float32Array(golden.rows.length * FEATURE_COUNT);
  golden.rows.forEach((row, i) => featurize(row.input.features, x, i * FEATURE_COUNT));
  const expected = golden.rows.flatMap((r) => [r.risk, ...r.contributions]);
  const results: [string, Awaited<ReturnType<typeof compare>>][] = [['golden', await compare(session, x, expected, golden.tolerance)]];
  const data = path.resolve(__dirname, 'data');
  if (existsSync(path.join(data, 'test.expected.f32'))) {
    results.push(['test matrix', await compare(session, readFloat32(path.join(data, 'test.features.f32')), readFloat32(path.join(data, 'test.expected.f32')), golden.tolerance)]);
  }
  let ok = true;
  for (const [what, r] of results) {
    console.log(`[parity] v${version} ${what}: ${r.rows} rows, max |diff| risk ${r.maxRisk.toExponential(2)}, contributions ${r.maxContribution.toExponential(2)}; ${r.failures} rows outside ${golden.tolerance}`);
    ok &&= r.failures === 0;
  }
  await session.release();
  if (!ok) throw new Error('parity failed');
});
