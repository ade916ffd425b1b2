/* eslint-disable no-console -- runParityCheck reports on the console */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readFloat32 } from './binary-files';

/**
 * Post-training parity of a model version: feature rows (written by the service's own `featurize`) through
 * model.onnx in onnxruntime-node, against the outputs the fitted Python model gave for the same rows. Every
 * output element must be within `tolerance` x max(1, |expected|), the rule the serving core applies to
 * golden.json at load.
 */

export interface ParityRows {
  /** float32 [rows, featureCount] */
  readonly features: Float32Array;
  /** float32 or float64 [rows, outputs.length]: row-major, outputs in the order of `outputs`. */
  readonly expected: Float32Array | Float64Array;
}

export interface ParityOptions {
  readonly modelPath: string;
  readonly featureCount: number;
  /** Output names, each float32 [batch, 1]. */
  readonly outputs: readonly string[];
  readonly tolerance: number;
  /** The golden rows: also run one row at a time, which must equal the batched run. */
  readonly golden: ParityRows;
  /** Optionally a whole held-out matrix (run in chunks). */
  readonly matrix?: ParityRows;
}

export interface ParityResult {
  readonly rows: number;
  /** Largest absolute difference per output. */
  readonly maxAbsDiff: Record<string, number>;
  /** Rows outside the tolerance. */
  readonly failures: number;
}

export interface ParityReport {
  readonly golden: ParityResult;
  /** Largest |single-row run - batched run| over the golden rows and outputs. */
  readonly singleVsBatch: number;
  readonly matrix?: ParityResult;
  readonly ok: boolean;
}

const CHUNK_ROWS = 50_000;

async function run(session: ort.InferenceSession, opts: ParityOptions, x: Float32Array, rows: number): Promise<Float32Array[]> {
  const out = await session.run({ features: new ort.Tensor('float32', x, [rows, opts.featureCount]) });
  return opts.outputs.map((name) => {
    const t = out[name];
    if (t === undefined) throw new Error(`model.onnx has no output '${name}'`);
    return t.data as Float32Array;
  });
}

async function compare(session: ort.InferenceSession, opts: ParityOptions, data: ParityRows): Promise<ParityResult> {
  const k = opts.outputs.length;
  const rows = data.features.length / opts.featureCount;
  if (!Number.isInteger(rows) || data.expected.length !== rows * k) {
    throw new Error(`parity rows do not line up: ${data.features.length} feature values, ${data.expected.length} expected values for ${k} outputs`);
  }
  const maxAbsDiff: Record<string, number> = Object.fromEntries(opts.outputs.map((o) => [o, 0]));
  const failed = new Set<number>();
  for (let from = 0; from < rows; from += CHUNK_ROWS) {
    const to = Math.min(rows, from + CHUNK_ROWS);
    const got = await run(session, opts, data.features.subarray(from * opts.featureCount, to * opts.featureCount), to - from);
    opts.outputs.forEach((name, o) => {
      for (let i = from; i < to; i++) {
        const want = data.expected[i * k + o] ?? NaN;
        const diff = Math.abs((got[o]?.[i - from] ?? NaN) - want);
        if (!(diff <= opts.tolerance * Math.max(1, Math.abs(want)))) failed.add(i);
        if (Number.isFinite(diff)) maxAbsDiff[name] = Math.max(maxAbsDiff[name] ?? 0, diff);
        else maxAbsDiff[name] = Infinity;
      }
    });
  }
  return { rows, maxAbsDiff, failures: failed.size };
}

export async function checkParity(opts: ParityOptions): Promise<ParityReport> {
  const session = await ort.InferenceSession.create(opts.modelPath);
  try {
    const golden = await compare(session, opts, opts.golden);
    const batch = await run(session, opts, opts.golden.features, golden.rows);
    let singleVsBatch = 0;
    for (let i = 0; i < golden.rows; i++) {
      const one = await run(session, opts, opts.golden.features.subarray(i * opts.featureCount, (i + 1) * opts.featureCount), 1);
      opts.outputs.forEach((_, o) => {
        singleVsBatch = Math.max(singleVsBatch, Math.abs((one[o]?.[0] ?? NaN) - (batch[o]?.[i] ?? NaN)));
      });
    }
    const matrix = opts.matrix === undefined ? undefined : await compare(session, opts, opts.matrix);
    const ok = golden.failures === 0 && singleVsBatch <= opts.tolerance && (matrix === undefined || matrix.failures === 0);
    return { golden, singleVsBatch, ...(matrix === undefined ? {} : { matrix }), ok };
  } finally {
    await session.release();
  }
}

/** One line per part of the report, for a training log. */
export function formatParity(version: string, report: ParityReport, tolerance: number): string {
  const diffs = (r: ParityResult): string =>
    Object.entries(r.maxAbsDiff)
      .map(([name, d]) => `${name} ${d.toExponential(3)}`)
      .join(', ');
  const lines = [
    `parity of model ${version} on ${report.golden.rows} golden rows: max |diff| ${diffs(report.golden)}; ` +
      `single-row vs batch ${report.singleVsBatch.toExponential(3)}; ${report.golden.failures} rows outside ${tolerance} x max(1, |value|)`,
  ];
  if (report.matrix !== undefined) {
    lines.push(`parity on all ${report.matrix.rows} held-out matrix rows: max |diff| ${diffs(report.matrix)}; ${report.matrix.failures} rows outside`);
  }
  lines.push(report.ok ? 'PARITY OK' : 'PARITY FAILED');
  return lines.join('\n');
}

/**
 * A training script's parity step: checks the golden rows and, when `<dataDir>/test.predictions.f32` (the
 * fitted model's predictions of `<dataDir>/test.features.f32`, row-major by output) exists, the whole test
 * matrix; prints the report and sets a failing exit code when parity does not hold.
 */
export async function runParityCheck(
  version: string,
  dataDir: string,
  opts: Omit<ParityOptions, 'matrix'>,
): Promise<ParityReport> {
  const predictions = path.join(dataDir, 'test.predictions.f32');
  const matrix = existsSync(predictions)
    ? { features: readFloat32(path.join(dataDir, 'test.features.f32')), expected: readFloat32(predictions) }
    : undefined;
  const report = await checkParity({ ...opts, ...(matrix === undefined ? {} : { matrix }) });
  console.log(formatParity(version, report, opts.tolerance));
  if (!report.ok) process.exitCode = 1;
  return report;
}
