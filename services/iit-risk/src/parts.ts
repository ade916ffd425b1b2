import type { Logger, ServiceParts, ServingMetrics } from '@predict/serving';
import { createApp } from './app';
import type { Config } from './config';
import { createIitRiskPredictor, type IitArtifacts, type PreparedRequest } from './predictor';
import type { RiskPrediction, RiskRequest } from './schema';
import { createStoreParts } from './store-parts';

/**
 * What iit-risk owns besides the model: one Redis connection for the feature store and the audit stream, the
 * predictor whose prepare reads that store, and the app with the store, audit and admin routes. main.ts and
 * the tests wire it the same way (runService / startTestService `parts`).
 */
export function iitRiskParts({ config, logger, metrics }: { config: Config; logger: Logger; metrics: ServingMetrics }): ServiceParts<RiskRequest, RiskPrediction, IitArtifacts, PreparedRequest> {
  const { redis, store, audit } = createStoreParts(config, logger, metrics.registry, { role: 'feature-store', service: 'iit-risk' });
  return {
    predictor: createIitRiskPredictor(store),
    createApp: (deps) => createApp({ ...deps, redis, store, audit }),
    start: () => redis.start(),
    stopSteps: [{ name: 'quit the feature-store Redis', run: () => redis.stop() }],
  };
}
