import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { definePredictor } from '@predict/serving';
import { featurize, parseFeatureTables } from './features';
import { MAX_BATCH_INSTANCES, flightPredictionSchema, flightRequestSchema } from './schema';

/**
 * flight-delay: P(arrival ≥ 15 min late) and expected delay minutes for a scheduled US domestic flight, from
 * an XGBoost pair exported to one ONNX graph. Used by the HTTP service and by the batch worker tier alike.
 */
export const flightDelayPredictor = definePredictor({
  name: 'flight-delay',
  description: 'Probability that a scheduled US domestic flight arrives 15 or more minutes late, and the expected delay',
  input: flightRequestSchema,
  output: flightPredictionSchema,
  example: { origin: 'ORD', destination: 'LAX', scheduled_departure: '2001-06-15T17:30' },
  maxBatchInstances: MAX_BATCH_INSTANCES,
  defaultModelDir: path.resolve(__dirname, '../model'),
  loadArtifacts: async (dir) => parseFeatureTables(JSON.parse(await readFile(path.join(dir, 'features.json'), 'utf8'))),
  // The same feature function writes the training matrix (training/export.ts) at a row offset.
  featurize: (input, tables, row) => featurize(input, tables, row.float32('features'), 0),
  toOutput: (row) => ({
    probability_delayed: Number(row['probability_delayed']?.[0]),
    expected_delay_minutes: Number(row['expected_delay_minutes']?.[0]),
  }),
});
