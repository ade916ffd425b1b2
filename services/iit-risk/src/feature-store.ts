import { NotFoundError, ServiceUnavailableError, type RedisConnection } from '@predict/serving';
import { storedPatientSchema, type PatientFeaturesInput, type StoredPatient } from './schema';

/** 503 when Redis does not answer; the message names the store, never a patient. */
function storeUnavailable(): ServiceUnavailableError {
  return new ServiceUnavailableError('the feature store (Redis) is unavailable: store-backed predictions and feature reads/writes cannot be answered; inline {features} predictions still work', 'feature_store_unavailable');
}

/** 404 for an unknown (or expired) patient: the id is not repeated. */
export function unknownPatient(): NotFoundError {
  return new NotFoundError('no stored features for this patient_id (never stored, deleted or expired)', 'patient_not_found');
}

/** No stored patient on this facility's roster (none PUT with it, or all deleted or expired). */
export function emptyFacility(): NotFoundError {
  return new NotFoundError('no stored patients for this facility_id (none stored with it, or all deleted or expired)', 'facility_not_found');
}

/**
 * People's current features in Redis: one validated JSON record (the features and, optionally, `facility_id`)
 * per patient at `<prefix>iit-risk:features:<patient_id>`, expiring FEATURE_TTL_DAYS after the last PUT (the
 * retention). Lookups for a request (or a whole batch) are one MGET: one round trip. Every Redis failure
 * becomes a 503 naming the store.
 *
 * The facility index: a sorted set per facility, `<prefix>iit-risk:facility:<facility_id>`, member = patient
 * id, score = when that patient's record expires (ms). PUT and DELETE keep it in the same Lua script as the
 * record (moving a patient between facilities removes them from the old one); an expired record's member is
 * pruned on the next read or write of its facility (ZREMRANGEBYSCORE below now), and the set itself expires
 * with its newest member. A facility job reads a frozen copy of it (`snapshotFacility`).
 */
export class FeatureStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly ttlSeconds: number,
  ) {}

  private key(patientId: string): string {
    return this.redis.key('iit-risk', 'features', patientId);
  }

  private facilityKey(facilityId: string): string {
    return this.redis.key('iit-risk', 'facility', facilityId);
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    if (!this.redis.ready) throw storeUnavailable();
    try {
      return await run();
    } catch {
      throw storeUnavailable();
    }
  }

  /** Stores (replaces) the record and updates the facility index in one script. */
  async put(patientId: string, record: StoredPatient): Promise<void> {
    const now = Date.now();
    await this.call(() =>
      this.redis.client.eval(
        PUT,
        1,
        this.key(patientId),
        JSON.stringify(record),
        String(this.ttlSeconds),
        patientId,
        this.facilityKey(''),
        record.facility_id ?? '',
        String(now + this.ttlSeconds * 1000),
        String(now),
      ),
    );
  }

  /** The stored record (features and facility), or undefined. */
  async getRecord(patientId: string): Promise<StoredPatient | undefined> {
    const [value] = await this.call(() => this.redis.client.mget([this.key(patientId)]));
    return parseRecord(value ?? null);
  }

  /** Features of each id in one round trip (MGET), in order; undefined where none are stored. */
  async getMany(patientIds: readonly string[]): Promise<(PatientFeaturesInput | undefined)[]> {
    if (patientIds.length === 0) return [];
    const values = await this.call(() => this.redis.client.mget(patientIds.map((id) => this.key(id))));
    return values.map((value) => {
      const record = parseRecord(value);
      if (record === undefined) return undefined;
      const { facility_id: _facility, ...features } = record;
      return features;
    });
  }

  /** Removes them (and their facility index entry); false when none were stored. */
  async delete(patientId: string): Promise<boolean> {
    return (await this.call(() => this.redis.client.eval(DELETE, 1, this.key(patientId), patientId, this.facilityKey('')))) === 1;
  }

  /**
   * Freezes the facility's current roster (expired members pruned first) for one job at
   * `<prefix>iit-risk:facility-job:<jobId>`, once: a retried or taken-over attempt finds the same copy, so
   * row n is the same person on every attempt. Returns its size (0: nothing stored for the facility).
   * The copy holds patient ids only (like the index) and expires after `ttlSeconds`.
   */
  async snapshotFacility(facilityId: string, jobId: string, ttlSeconds: number): Promise<number> {
    return Number(await this.call(() => this.redis.client.eval(SNAPSHOT, 2, this.facilityKey(facilityId), this.snapshotKey(jobId), String(Date.now()), String(ttlSeconds))));
  }

  /** Patient ids [start, end) of a job's frozen roster, in its fixed order (expiry, then id). */
  async snapshotRange(jobId: string, start: number, end: number): Promise<string[]> {
    if (end <= start) return [];
    return this.call(() => this.redis.client.zrange(this.snapshotKey(jobId), String(start), String(end - 1)));
  }

  /** Live members of a facility's index (expired ones pruned), for resolving result HMACs; bounded by `max`. */
  async facilityMembers(facilityId: string, max: number): Promise<string[]> {
    const key = this.facilityKey(facilityId);
    return this.call(async () => {
      await this.redis.client.zremrangebyscore(key, '-inf', String(Date.now()));
      return this.redis.client.zrange(key, '0', String(max - 1));
    });
  }

  private snapshotKey(jobId: string): string {
    return this.redis.key('iit-risk', 'facility-job', jobId);
  }
}

/** A stored value that no longer parses (a schema change) reads as absent. */
function parseRecord(value: string | null): StoredPatient | undefined {
  if (value === null) return undefined;
  try {
    const parsed = storedPatientSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * KEYS: the record. ARGV: record JSON, TTL s, patient id, facility-key prefix, facility id ('' none), expiry ms,
 * now ms. The old record's facility (if another) loses the member; the new one gains it scored by expiry, is
 * pruned of expired members and expires with its newest member. The facility keys are built here from the
 * prefix (a hash-tagged REDIS_KEY_PREFIX keeps them in the record's slot).
 */
const PUT = `
local old = redis.call('GET', KEYS[1])
if old then
  local ok, rec = pcall(cjson.decode, old)
  if ok and type(rec) == 'table' and type(rec['facility_id']) == 'string' and rec['facility_id'] ~= ARGV[5] then
    redis.call('ZREM', ARGV[4] .. rec['facility_id'], ARGV[3])
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if ARGV[5] ~= '' then
  local fk = ARGV[4] .. ARGV[5]
  redis.call('ZADD', fk, ARGV[6], ARGV[3])
  redis.call('ZREMRANGEBYSCORE', fk, '-inf', ARGV[7])
  local top = redis.call('ZRANGE', fk, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', fk, top[2])
end
return 1
`;

/** KEYS: the record. ARGV: patient id, facility-key prefix. 1 = removed, 0 = none stored. */
const DELETE = `
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
local ok, rec = pcall(cjson.decode, old)
if ok and type(rec) == 'table' and type(rec['facility_id']) == 'string' then
  redis.call('ZREM', ARGV[2] .. rec['facility_id'], ARGV[1])
end
redis.call('DEL', KEYS[1])
return 1
`;

/** KEYS: facility index, job snapshot. ARGV: now ms, snapshot TTL s. The snapshot's size. */
const SNAPSHOT = `
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[1]) == 0 then return 0 end
  redis.call('ZRANGESTORE', KEYS[2], KEYS[1], 0, -1)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return redis.call('ZCARD', KEYS[2])
`;
