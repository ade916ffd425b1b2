import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { definePredictor } from '@predict/serving';
import { featurize, haversineKm, pickupTimeOf } from './features';
import { etaIntervalSeconds, intervalFor, parseIntervalTable, type IntervalTable } from './interval';
import { MAX_BATCH_INSTANCES, etaPredictionSchema, etaRequestSchema } from './schema';

export interface TaxiArtifacts {
  /** Held-out residual quantiles of log1p(seconds) by distance band × pickup hour (model/<v>/intervals.json). */
  intervals: IntervalTable;
}

/**
 * taxi-eta: expected New York taxi trip duration with an 80 % interval, from an XGBoost regressor on
 * log1p(seconds) exported to ONNX and the held-out residual quantiles of its version. Used by the HTTP service
 * and by the batch worker tier alike.
 */
export const taxiEtaPredictor = definePredictor({
  name: 'taxi-eta',
  description: 'Expected duration of a New York City taxi trip, in seconds, with an 80 % interval [p10, p90]',
  input: etaRequestSchema,
  output: etaPredictionSchema,
  example: { pickup: { lat: 40.758, lon: -73.9855 }, dropoff: { lat: 40.6413, lon: -73.7781 }, pickup_time: '2016-06-15T17:30:00' },
  maxBatchInstances: MAX_BATCH_INSTANCES,
  defaultModelDir: path.resolve(__dirname, '../model'),
  loadArtifacts: async (dir): Promise<TaxiArtifacts> => ({
    intervals: parseIntervalTable(JSON.parse(await readFile(path.join(dir, 'intervals.json'), 'utf8'))),
  }),
  // The same feature function writes the training matrix (training/export.ts) at a row offset.
  featurize: (input, _artifacts, row) => featurize(input, row.float32('features'), 0),
  toOutput: (row, input, { intervals }) => {
    const log = Number(row['log_duration']?.[0]);
    const distanceKm = haversineKm(input.pickup, input.dropoff);
    return {
      eta_seconds: Math.max(0, Math.expm1(log)),
      eta_interval_seconds: etaIntervalSeconds(log, intervalFor(distanceKm, pickupTimeOf(input).hour, intervals)),
      distance_km: distanceKm,
    };
  },
});
