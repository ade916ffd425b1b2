/**
 * Parity of a freshly fitted version (train.sh step 3), in two parts:
 *   1. every held-out tensor (validation, then shifted; written by src/image.ts) through model.onnx in
 *      onnxruntime-node against PyTorch's probabilities for it (data/heldout.predictions.f32): |diff| ≤ 1e-4;
 *   2. the version loaded exactly as the service loads it (card, file hashes, warm-up, golden check): each golden
 *      upload's bytes → sharp → the graph must reproduce PyTorch's probabilities within the card's tolerance.
 * Exits 1 when either fails.
 */
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readFloat32, runScript } from '@predict/model-tools';
import { startTestService } from '@predict/serving/testing';
import { INPUT_SIZE, PIXELS_PER_IMAGE } from '../src/image';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { vehicleClassifierPredictor } from '../src/predictor';

const ROOT = path.resolve(__dirname, '..');
const DATA = path.join(ROOT, 'training', 'data');
const TOLERANCE = 1e-4;

async function heldOut(version: string): Promise<boolean> {
  const val = readFloat32(path.join(DATA, 'val.f32'));
  const shifted = readFloat32(path.join(DATA, 'shifted.f32'));
  const x = new Float32Array(val.length + shifted.length);
  x.set(val);
  x.set(shifted, val.length);
  const expected = readFloat32(path.join(DATA, 'heldout.predictions.f32'));
  const n = x.length / PIXELS_PER_IMAGE;
  const k = expected.length / n;
  const session = await ort.InferenceSession.create(path.join(ROOT, 'model', version, 'model.onnx'), { intraOpNumThreads: 1 });
  let maxDiff = 0;
  let failures = 0;
  let argmaxDisagree = 0;
  try {
    for (let from = 0; from < n; from += 256) {
      const rows = Math.min(256, n - from);
      const feed = new ort.Tensor('float32', x.subarray(from * PIXELS_PER_IMAGE, (from + rows) * PIXELS_PER_IMAGE), [rows, 3, INPUT_SIZE, INPUT_SIZE]);
      const got = (await session.run({ image: feed }))['probabilities']!.data as Float32Array;
      for (let r = 0; r < rows; r++) {
        let bad = false;
        let [ga, ea] = [0, 0];
        for (let c = 0; c < k; c++) {
          const g = got[r * k + c]!;
          const e = expected[(from + r) * k + c]!;
          const d = Math.abs(g - e);
          maxDiff = Math.max(maxDiff, d);
          if (!(d <= TOLERANCE)) bad = true;
          if (g > got[r * k + ga]!) ga = c;
          if (e > expected[(from + r) * k + ea]!) ea = c;
        }
        if (bad) failures++;
        if (ga !== ea) argmaxDisagree++;
      }
    }
  } finally {
    await session.release();
  }
  console.log(`parity on ${n} held-out tensors: max |onnxruntime - pytorch| ${maxDiff.toExponential(3)}; ${failures} images outside ${TOLERANCE}; top-1 differs on ${argmaxDisagree}`);
  return failures === 0;
}

async function asServed(version: string): Promise<boolean> {
  // Loading runs the golden check (uploads → prepare → graph vs PyTorch); a mismatch throws a ModelLoadError.
  const env = { MODEL_VERSION: version, MODEL_POLL_INTERVAL_MS: '0', LOG_LEVEL: 'info' };
  const svc = await startTestService({ predictor: vehicleClassifierPredictor, env, createApp: (deps) => createApp(deps, loadConfig(env)) });
  try {
    const line = svc.logs.lines.find((l) => l['message'] === 'golden vectors reproduced');
    console.log(`golden uploads through the service: ${line ? `${String(line['rows'])} images, max |diff| ${Number(line['max_abs_diff']).toExponential(3)}` : 'NOT CHECKED'}`);
    return line !== undefined;
  } finally {
    await svc.stop();
  }
}

runScript(async () => {
  const version = process.argv[2];
  if (version === undefined) throw new Error('usage: check-parity.ts <model version>');
  const ok = (await heldOut(version)) && (await asServed(version));
  console.log(ok ? 'PARITY OK' : 'PARITY FAILED');
  if (!ok) process.exitCode = 1;
});
