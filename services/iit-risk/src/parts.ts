import { createRedis, type Logger, type ServiceParts, type ServingMetrics } from '@predict/serving';
import { createApp } from './app';
import { AuditLog } from './audit-log';
import type { Config } from './config';
import { FeatureStore } from './feature-store';
import { createIitRiskPredictor, type IitArtifacts, type PreparedRequest } from './predictor';
import type { RiskPrediction, RiskRequest } from './schema';

/**
 * What iit-risk owns besides the model: one Redis connection for the feature store and the audit stream, the
 * predictor whose prepare reads that store, and the app with the store, audit and admin routes. main.ts and
 * the tests wire it the same way (runService / startTestService `parts`).
 */
export function iitRiskParts({ config, logger, metrics }: { config: Config; logger: Logger; metrics: ServingMetrics }): ServiceParts<RiskRequest, RiskPrediction, IitArtifacts, PreparedRequest> {
  const redis = createRedis(config, logger, { role: 'feature-store', service: 'iit-risk', commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
  const store = new FeatureStore(redis, config.FEATURE_TTL_DAYS * 86_400);
  const audit = new AuditLog(redis, {
    hmacKey: config.AUDIT_HMAC_KEY,
    required: config.AUDIT_REQUIRED,
    maxLen: config.AUDIT_MAXLEN,
    dedupeSeconds: config.AUDIT_DEDUPE_SECONDS,
    registry: metrics.registry,
  });
  return {
    predictor: createIitRiskPredictor(store),
    createApp: (deps) => createApp({ ...deps, redis, store, audit }),
    start: () => redis.start(),
    stopSteps: [{ name: 'quit the feature-store Redis', run: () => redis.stop() }],
  };
}
