/**
 * Which part of the shift costs accuracy: renders `--per-class` pictures per class with ONE shift factor at a
 * time (the rest drawn as in training), plus the training domain and the full shifted domain, runs them through
 * the service's preprocessing and model/<version>/model.onnx, and prints the accuracy of each.
 *   node --conditions=development --import tsx training/diagnose-shift.ts <version> [--per-class 60] [--seed 40]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { runScript } from '@predict/model-tools';
import { INPUT_SIZE } from '../src/image';
import { CLASSES, SHIFT_FACTORS, type Domain, type ShiftFactor } from './render';
import { renderSet, toTensors } from './render-set';

async function accuracy(session: ort.InferenceSession, domain: Domain, only: ShiftFactor | undefined, perClass: number, seed: number): Promise<{ acc: number; perClass: number[] }> {
  const { x, y } = await toTensors(await renderSet(domain, perClass, seed, only));
  const out = await session.run({ image: new ort.Tensor('float32', x, [y.length, 3, INPUT_SIZE, INPUT_SIZE]) });
  const p = out.probabilities!.data as Float32Array;
  const k = CLASSES.length;
  const right = new Array<number>(k).fill(0);
  y.forEach((label, i) => {
    const row = p.subarray(i * k, (i + 1) * k);
    if (row.indexOf(Math.max(...row)) === label) right[label]! += 1;
  });
  return { acc: right.reduce((a, b) => a + b, 0) / y.length, perClass: right.map((n) => n / perClass) };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'per-class': { type: 'string', default: '60' }, seed: { type: 'string', default: '40' } } });
  const version = positionals[0] ?? '1';
  const session = await ort.InferenceSession.create(path.resolve(__dirname, '..', 'model', version, 'model.onnx'));
  const n = Number(values['per-class']);
  const seed = Number(values.seed);
  const rows: [string, Domain, ShiftFactor | undefined][] = [['training domain', 'train', undefined], ...SHIFT_FACTORS.map((f): [string, Domain, ShiftFactor] => [`only ${f}`, 'train', f]), ['shifted (all)', 'shifted', undefined]];
  console.log(`model ${version}, ${n} per class, seed ${seed}; per class: ${CLASSES.join(' ')}`);
  for (const [name, domain, only] of rows) {
    const r = await accuracy(session, domain, only, n, seed);
    console.log(`${name.padEnd(18)} ${r.acc.toFixed(3)}   ${r.perClass.map((v) => v.toFixed(2)).join(' ')}`);
  }
}

runScript(main);
