import { createRedis, type Logger, type Registry } from '@predict/serving';
import { AuditLog } from './audit-log';
import type { BatchConfig } from './config';
import { FeatureStore } from './feature-store';

/**
 * The feature store and the audit log on one Redis connection of their own: what the HTTP service (parts.ts)
 * and the batch worker (batch.ts) each own. The caller starts and stops `redis`.
 */
export function createStoreParts(config: BatchConfig, logger: Logger, registry: Registry, who: { role: string; service: string }) {
  const redis = createRedis({ REDIS_URL: config.REDIS_URL, REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX }, logger, { ...who, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
  const store = new FeatureStore(redis, config.FEATURE_TTL_DAYS * 86_400);
  const audit = new AuditLog(redis, {
    hmacKey: config.AUDIT_HMAC_KEY,
    required: config.AUDIT_REQUIRED,
    maxLen: config.AUDIT_MAXLEN,
    dedupeSeconds: config.AUDIT_DEDUPE_SECONDS,
    registry,
  });
  return { redis, store, audit };
}
