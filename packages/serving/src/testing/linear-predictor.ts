import path from 'node:path';
import { z } from 'zod';
import { UnprocessableEntityError } from '../errors/unprocessable-entity-error';
import { definePredictor } from '../inference/predictor';

/** The model directory of the core's fixture model (packages/serving/fixtures/models/linear). */
export const LINEAR_MODEL_DIR = path.resolve(__dirname, '../../fixtures/models/linear');

/**
 * The predictor of the core's fixture model: y = a*w0 + b*w1 + c*w2 + bias, p = sigmoid(y). `a` = 13 is a
 * domain rejection (422), so tests can exercise that path.
 */
export const linearPredictor = definePredictor({
  name: 'linear',
  description: 'Test fixture: a linear model',
  input: z.object({ a: z.number(), b: z.number(), c: z.number() }).strict(),
  output: z.object({ y: z.number(), p: z.number() }),
  example: { a: 1, b: 1, c: 1 },
  maxBatchInstances: 100,
  defaultModelDir: LINEAR_MODEL_DIR,
  loadArtifacts: async () => ({}),
  featurize(input, _artifacts, row) {
    if (input.a === 13) throw new UnprocessableEntityError('a must not be 13', { field: 'a', value: 13 }, 'unlucky');
    row.float32('x').set([input.a, input.b, input.c]);
  },
  toOutput: (row) => ({ y: Number(row['y']?.[0]), p: Number(row['p']?.[0]) }),
});
