import os from 'node:os';
import { z } from 'zod';
import { ConfigError } from './config-error';

/** Parses `env` with a zod object schema whose keys are variable names; a bad value names the variable. */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({ variable: issue.path.map(String).join('.'), reason: issue.message })),
  );
}

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** An integer variable in [min, max]. */
export const intVar = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^-?\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(min).max(max))
      .default(fallback),
  );

/** A number variable in [min, max]. */
export const numberVar = (fallback: number, min: number, max = Number.MAX_VALUE) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
      .transform(Number)
      .pipe(z.number().min(min).max(max))
      .default(fallback),
  );

/** true/false, 1/0, yes/no. */
export const boolVar = (fallback: boolean) =>
  z.preprocess(
    blankToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),
  );

/** A comma-separated list; blanks dropped. */
export const listVar = () =>
  z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );

/** Optional string; blank counts as unset. */
export const optionalStringVar = () => z.preprocess(blankToUndefined, z.string().optional());

/** Threads this process may use: respects CPU affinity and cgroup limits, unlike os.cpus().length. */
export const availableThreads = (): number => Math.max(1, os.availableParallelism());
