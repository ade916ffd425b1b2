/**
 * Parity check of a trained version: golden.json inputs -> featurize (src/features.ts, the serving code) ->
 * model.onnx in onnxruntime-node, against the XGBoost outputs recorded by fit.py; and, when the training data
 * is around, every June row of the test matrix against XGBoost's predictions.
 *
 *   node --conditions=development --import tsx training/check-parity.ts [version]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runParityCheck, runScript } from '@predict/model-tools';
import { FEATURE_COUNT, featurize, parseFeatureTables, type FlightInput } from '../src/features';

interface Golden {
  tolerance: number;
  rows: Array<{ input: FlightInput; probability_delayed: number; expected_delay_minutes: number }>;
}

const OUTPUTS = ['probability_delayed', 'expected_delay_minutes'] as const;

runScript(async () => {
  const version = process.argv[2] ?? '1';
  const dir = path.resolve(__dirname, '..', 'model', version);
  const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
  const tables = parseFeatureTables(JSON.parse(readFileSync(path.join(dir, 'features.json'), 'utf8')));
  const features = new Float32Array(golden.rows.length * FEATURE_COUNT);
  golden.rows.forEach((row, i) => featurize(row.input, tables, features, i * FEATURE_COUNT));
  await runParityCheck(version, path.resolve(__dirname, 'data'), {
    modelPath: path.join(dir, 'model.onnx'),
    featureCount: FEATURE_COUNT,
    outputs: OUTPUTS,
    tolerance: golden.tolerance,
    golden: { features, expected: Float64Array.from(golden.rows.flatMap((row) => OUTPUTS.map((o) => row[o]))) },
  });
});
