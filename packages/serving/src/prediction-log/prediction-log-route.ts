import { z } from 'zod';
import { NotFoundError } from '../errors/not-found-error';
import { parseOrThrow } from '../errors/zod-issues';
import type { RouteSpec } from '../service/route-table';
import { storedPredictionSchema, type PredictionLogStore } from './prediction-log';

const querySchema = z.object({
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number from 1 to 1000')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be from 1 to 1000').max(1000, 'must be from 1 to 1000'))
    .default(100),
});

/**
 * `GET /admin/predictions?limit=` (admin scope): the newest entries of the prediction log, newest first.
 * 400 naming `limit` outside 1..1000; 404 `prediction_log_disabled` when PREDICTION_LOG=off; 503
 * `prediction_log_unavailable` while Redis is away.
 */
export function predictionLogRoute(log: PredictionLogStore | undefined): RouteSpec {
  return {
    method: 'get',
    path: '/admin/predictions',
    summary: 'The newest logged predictions, newest first; ?limit=1..1000 (default 100) (admin scope; needs PREDICTION_LOG=on)',
    scope: 'admin',
    responses: { 200: { description: 'logged predictions', schema: z.object({ predictions: z.array(storedPredictionSchema) }) } },
    errors: [400, 404, 503],
    handler: async (req, res) => {
      const { limit } = parseOrThrow(querySchema, req.query);
      if (!log) throw new NotFoundError('the prediction log is off (PREDICTION_LOG=off)', 'prediction_log_disabled');
      res.json({ predictions: await log.newest(limit) });
    },
  };
}
