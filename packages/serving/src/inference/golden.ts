import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../errors/model-load-error';
import type { RowOutputs } from './predictor';

/**
 * `golden.json` of a version: inputs and the fitted model's outputs for them. Each row names outputs by card
 * name; a value is a number (a one-value output) or an array (every element of the row's output vector).
 */
export interface GoldenFile {
  tolerance?: number;
  rows: Array<{ input: unknown } & Record<string, unknown>>;
}

export interface GoldenFailure {
  row: number;
  output: string;
  element: number;
  expected: number;
  actual: number | undefined;
}

export interface GoldenComparison {
  rows: number;
  /** Output elements compared. */
  values: number;
  failures: GoldenFailure[];
  maxAbsDiff: number;
}

/** Reads `<dir>/golden.json`; undefined when the version ships none. */
export async function readGolden(dir: string, version: string): Promise<GoldenFile | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'golden.json'), 'utf8')) as GoldenFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelLoadError(`golden.json of version ${version} cannot be read`, undefined, error);
  }
}

/**
 * Compares served outputs with golden vectors, element by element: every output a row names must have the
 * same length and each element must be within `tolerance` × max(1, |expected|).
 */
export function compareGolden(golden: GoldenFile, served: readonly RowOutputs[], outputNames: readonly string[]): GoldenComparison {
  const tolerance = golden.tolerance ?? 1e-5;
  const failures: GoldenFailure[] = [];
  let maxAbsDiff = 0;
  let values = 0;
  served.forEach((row, i) => {
    for (const name of outputNames) {
      const raw = golden.rows[i]?.[name];
      if (raw === undefined) continue;
      const expected = Array.isArray(raw) ? (raw as unknown[]) : [raw];
      const actual = row[name];
      const length = Math.max(expected.length, actual?.length ?? 0);
      for (let k = 0; k < length; k++) {
        values++;
        const want = Number(expected[k]);
        const got = actual !== undefined && k < actual.length ? Number(actual[k]) : undefined;
        const diff = got === undefined ? Infinity : Math.abs(got - want);
        if (Number.isFinite(diff)) maxAbsDiff = Math.max(maxAbsDiff, diff);
        if (!(diff <= tolerance * Math.max(1, Math.abs(want)))) failures.push({ row: i, output: name, element: k, expected: want, actual: got });
      }
    }
  });
  return { rows: served.length, values, failures, maxAbsDiff };
}
