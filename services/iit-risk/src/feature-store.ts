import { NotFoundError, ServiceUnavailableError, type RedisConnection } from '@predict/serving';
import { patientFeaturesSchema, type PatientFeaturesInput } from './schema';

/** 503 when Redis does not answer; the message names the store, never a patient. */
export function storeUnavailable(): ServiceUnavailableError {
  return new ServiceUnavailableError('the feature store (Redis) is unavailable: store-backed predictions and feature reads/writes cannot be answered; inline {features} predictions still work', 'feature_store_unavailable');
}

/** 404 for an unknown (or expired) patient: the id is not repeated. */
export function unknownPatient(): NotFoundError {
  return new NotFoundError('no stored features for this patient_id (never stored, deleted or expired)', 'patient_not_found');
}

/**
 * People's current features in Redis: one JSON string per patient at `<prefix>iit-risk:features:<patient_id>`,
 * expiring FEATURE_TTL_DAYS after the last PUT (the retention). Lookups for a request (or a whole batch) are
 * one MGET: one round trip. Every Redis failure becomes a 503 naming the store.
 */
export class FeatureStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly ttlSeconds: number,
  ) {}

  private key(patientId: string): string {
    return this.redis.key('iit-risk', 'features', patientId);
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    if (!this.redis.ready) throw storeUnavailable();
    try {
      return await run();
    } catch {
      throw storeUnavailable();
    }
  }

  async put(patientId: string, features: PatientFeaturesInput): Promise<void> {
    await this.call(() => this.redis.client.set(this.key(patientId), JSON.stringify(features), 'EX', this.ttlSeconds));
  }

  /** The stored features, or undefined. */
  async get(patientId: string): Promise<PatientFeaturesInput | undefined> {
    return (await this.getMany([patientId]))[0];
  }

  /** Features of each id in one round trip (MGET), in order; undefined where none are stored. */
  async getMany(patientIds: readonly string[]): Promise<(PatientFeaturesInput | undefined)[]> {
    if (patientIds.length === 0) return [];
    const values = await this.call(() => this.redis.client.mget(patientIds.map((id) => this.key(id))));
    return values.map((value) => {
      if (value === null) return undefined;
      // Written by put() after validation; a value that no longer parses (a schema change) reads as absent.
      const parsed = patientFeaturesSchema.safeParse(JSON.parse(value));
      return parsed.success ? parsed.data : undefined;
    });
  }

  /** Removes them; false when none were stored. */
  async delete(patientId: string): Promise<boolean> {
    return (await this.call(() => this.redis.client.del(this.key(patientId)))) > 0;
  }
}
