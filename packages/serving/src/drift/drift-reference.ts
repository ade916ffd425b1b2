import { z } from 'zod';

/**
 * A model card's `drift_reference`: for each monitored column of one float input, the training distribution as
 * bin edges (ascending; bins (-inf, e0), [e0, e1), ..., [e_last, inf)) with the share of training rows in each
 * bin, plus the share missing (NaN). Written at training time (e.g. iit-risk's fit.py).
 */
export const driftReferenceSchema = z.object({
  /** The model input the columns belong to (a float32 or float64 [N, F] input). */
  input: z.string().min(1),
  features: z
    .array(
      z
        .object({
          name: z.string().min(1),
          /** Column of the input row. */
          index: z.number().int().min(0),
          edges: z.array(z.number()).min(1).refine((e) => e.every((v, i) => i === 0 || v > (e[i - 1] as number)), { message: 'must be strictly ascending' }),
          proportions: z.array(z.number().min(0).max(1)),
          missing: z.number().min(0).max(1).default(0),
        })
        .refine((f) => f.proportions.length === f.edges.length + 1, { message: 'proportions must have one entry more than edges' }),
    )
    .min(1),
});

export type DriftReference = z.output<typeof driftReferenceSchema>;

/**
 * Population stability index of `actual` against `expected` shares (same bins): sum of (a - e) * ln(a / e),
 * each share floored at `floor` so an empty bin counts as a large shift rather than an infinite one. Below 0.1
 * is usually read as stable, 0.1-0.25 as a moderate shift, above 0.25 as a significant one.
 */
export function psi(expected: readonly number[], actual: readonly number[], floor = 1e-4): number {
  let sum = 0;
  expected.forEach((e, i) => {
    const a = Math.max(floor, actual[i] ?? 0);
    const x = Math.max(floor, e);
    sum += (a - x) * Math.log(a / x);
  });
  return sum;
}
