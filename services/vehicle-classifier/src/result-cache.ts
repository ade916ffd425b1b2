import { createHash } from 'node:crypto';
import type { Logger, RedisConnection, Registry } from '@predict/serving';
import { Counter } from 'prom-client';
import { classificationSchema, type Classification } from './schema';

export type CacheLookup = 'hit' | 'miss' | 'unavailable';

/** sha256 of an image's bytes, hex: with the model version, the cache key. */
export const imageDigest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Classifications by (model version, sha256 of the image bytes) in Redis, with a TTL: the same photo sent
 * again (retries, re-uploads) is answered without decoding it. Best effort only: a lookup or write that fails or
 * outlasts its command timeout is counted and the request goes on uncached; nothing here ever throws.
 * Metrics: `prediction_cache_lookups_total{result="hit"|"miss"|"unavailable"}` (per image),
 * `prediction_cache_write_errors_total`.
 */
export class ResultCache {
  private readonly lookups: Counter<'result'>;
  private readonly writeErrors: Counter;
  private readonly logger: Logger;

  constructor(
    private readonly redis: RedisConnection | undefined,
    private readonly ttlSeconds: number,
    registry: Registry,
    logger: Logger,
  ) {
    this.logger = logger.child({ component: 'result-cache' });
    this.lookups = new Counter({ name: 'prediction_cache_lookups_total', help: 'Result cache lookups per image, by result', labelNames: ['result'], registers: [registry] });
    this.writeErrors = new Counter({ name: 'prediction_cache_write_errors_total', help: 'Result cache writes that failed (the answer was still sent)', registers: [registry] });
    for (const result of ['hit', 'miss', 'unavailable']) this.lookups.inc({ result }, 0);
  }

  get enabled(): boolean {
    return this.redis !== undefined && this.ttlSeconds > 0;
  }

  private key(version: string, digest: string): string {
    return (this.redis as RedisConnection).key('vehicle-classifier', 'result', version, digest);
  }

  /** The cached classification of each digest, or undefined (a miss, or the cache is away). */
  async getMany(version: string, digests: readonly string[]): Promise<(Classification | undefined)[]> {
    const misses = digests.map((): Classification | undefined => undefined);
    if (!this.enabled || digests.length === 0) return misses;
    const redis = this.redis as RedisConnection;
    if (!redis.ready) {
      this.lookups.inc({ result: 'unavailable' }, digests.length);
      return misses;
    }
    let values: (string | null)[];
    try {
      values = await redis.client.mget(digests.map((d) => this.key(version, d)));
    } catch (error) {
      this.lookups.inc({ result: 'unavailable' }, digests.length);
      this.logger.debug('cache lookup failed; answering uncached', { error: (error as Error).message });
      return misses;
    }
    return values.map((value) => {
      const parsed = value === null ? undefined : parseEntry(value);
      this.lookups.inc({ result: parsed ? 'hit' : 'miss' });
      return parsed;
    });
  }

  /** Stores classifications in the background (one pipeline); the caller never waits for it. */
  setMany(version: string, entries: readonly { digest: string; value: Classification }[]): void {
    if (!this.enabled || entries.length === 0 || !(this.redis as RedisConnection).ready) return;
    const pipeline = (this.redis as RedisConnection).client.pipeline();
    for (const { digest, value } of entries) pipeline.set(this.key(version, digest), JSON.stringify(value), 'EX', this.ttlSeconds);
    pipeline.exec().then(
      (replies) => {
        const failed = (replies ?? []).filter(([error]) => error !== null).length;
        if (failed > 0) this.writeErrors.inc(failed);
      },
      () => this.writeErrors.inc(entries.length),
    );
  }
}

/** A stored entry, or undefined when it does not parse (written by another release: treated as a miss). */
function parseEntry(value: string): Classification | undefined {
  try {
    const parsed = classificationSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
