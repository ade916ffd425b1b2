/**
 * Parity check of a trained version: golden.json inputs -> featurize (src/features.ts, the serving code) ->
 * model.onnx in onnxruntime-node, against the XGBoost outputs recorded by fit.py; and, when the training data
 * is around, every test-range row of the matrix against XGBoost's predictions.
 *
 *   node --conditions=development --import tsx training/check-parity.ts [version]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runParityCheck, runScript } from '@predict/model-tools';
import { FEATURE_COUNT, featurize, type TripInput } from '../src/features';

interface Golden {
  tolerance: number;
  rows: Array<{ input: TripInput; log_duration: number }>;
}

runScript(async () => {
  const version = process.argv[2] ?? '1';
  const dir = path.resolve(__dirname, '..', 'model', version);
  const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
  const features = new Float32Array(golden.rows.length * FEATURE_COUNT);
  golden.rows.forEach((row, i) => featurize(row.input, features, i * FEATURE_COUNT));
  await runParityCheck(version, path.resolve(__dirname, 'data'), {
    modelPath: path.join(dir, 'model.onnx'),
    featureCount: FEATURE_COUNT,
    outputs: ['log_duration'],
    tolerance: golden.tolerance,
    golden: { features, expected: Float64Array.from(golden.rows, (r) => r.log_duration) },
  });
});
