import { z } from 'zod';

/**
 * The prediction interval: `intervals.json` of a model version holds, per distance band x pickup hour, the
 * 10th and 90th percentiles of the held-out residuals log1p(actual seconds) - log_duration (training/fit.py
 * computes them on a calibration range the model never trained or early-stopped on). The service adds them to
 * the model's log_duration: eta_interval_seconds = [expm1(log_duration + low), expm1(log_duration + high)].
 */

export const INTERVAL_TABLE_FORMAT = 'taxi-eta-intervals/1';
const HOURS = 24;

const finite = z.number().refine(Number.isFinite, 'must be finite');
const perHour = z.array(finite).length(HOURS);

const intervalTableSchema = z
  .object({
    format: z.literal(INTERVAL_TABLE_FORMAT),
    /** Nominal quantiles of [low, high]. */
    quantiles: z.tuple([z.number().gt(0).lt(1), z.number().gt(0).lt(1)]),
    /** Ascending band edges (km of great-circle distance): band b holds edges[b-1] <= d < edges[b]. */
    distance_band_edges_km: z.array(z.number().positive()).min(1),
    /** [band][hour] residual quantiles (log1p seconds). */
    low: z.array(perHour),
    high: z.array(perHour),
    /** [band][hour] calibration trips behind each cell (informational; sparse cells hold their band's value). */
    counts: z.array(z.array(z.number().int().nonnegative()).length(HOURS)),
  })
  .loose()
  .superRefine((t, ctx) => {
    const bands = t.distance_band_edges_km.length + 1;
    if (!t.distance_band_edges_km.every((e, i, a) => i === 0 || e > (a[i - 1] ?? 0))) {
      ctx.addIssue({ code: 'custom', path: ['distance_band_edges_km'], message: 'edges must be strictly ascending' });
    }
    if (!(t.quantiles[0] < t.quantiles[1])) {
      ctx.addIssue({ code: 'custom', path: ['quantiles'], message: 'low quantile must be below the high one' });
    }
    for (const key of ['low', 'high', 'counts'] as const) {
      if (t[key].length !== bands) {
        ctx.addIssue({ code: 'custom', path: [key], message: `expected ${bands} bands (edges + 1), got ${t[key].length}` });
      }
    }
    t.low.forEach((row, b) =>
      row.forEach((lo, h) => {
        if (!(lo <= (t.high[b]?.[h] ?? -Infinity))) {
          ctx.addIssue({ code: 'custom', path: ['low', b, h], message: 'low must not exceed high' });
        }
      }),
    );
  });

export type IntervalTableJson = z.input<typeof intervalTableSchema>;

export interface IntervalTable {
  readonly quantiles: readonly [number, number];
  readonly edgesKm: Float64Array;
  /** [band * 24 + hour] */
  readonly low: Float64Array;
  readonly high: Float64Array;
}

/** Validates intervals.json (throws a ZodError) into its lookup form. */
export function parseIntervalTable(json: unknown): IntervalTable {
  const t = intervalTableSchema.parse(json);
  return {
    quantiles: t.quantiles,
    edgesKm: Float64Array.from(t.distance_band_edges_km),
    low: Float64Array.from(t.low.flat()),
    high: Float64Array.from(t.high.flat()),
  };
}

/**
 * Band of a distance: the number of edges at or below it. The distance is compared as the float32 the model
 * input holds (`haversine_km`), exactly as training/fit.py bands the held-out rows.
 */
export function distanceBand(distanceKm: number, table: Pick<IntervalTable, 'edgesKm'>): number {
  const d = Math.fround(distanceKm);
  let band = 0;
  while (band < table.edgesKm.length && d >= (table.edgesKm[band] ?? Infinity)) band++;
  return band;
}

/**
 * [low, high] residual quantiles (log1p seconds) for a trip of `distanceKm` great-circle km picked up in local
 * hour `hour` (0..23; a fractional hour counts as its whole hour).
 */
export function intervalFor(distanceKm: number, hour: number, table: IntervalTable): readonly [low: number, high: number] {
  if (!(hour >= 0 && hour < HOURS)) throw new RangeError(`hour must be in [0, 24), got ${hour}`);
  const i = distanceBand(distanceKm, table) * HOURS + Math.floor(hour);
  return [table.low[i] ?? NaN, table.high[i] ?? NaN];
}

/** Seconds: [expm1(logDuration + low), expm1(logDuration + high)], never below 0. */
export function etaIntervalSeconds(logDuration: number, interval: readonly [number, number]): [number, number] {
  return [Math.max(0, Math.expm1(logDuration + interval[0])), Math.max(0, Math.expm1(logDuration + interval[1]))];
}
