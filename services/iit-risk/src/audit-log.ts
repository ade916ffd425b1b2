import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ServiceUnavailableError, type RedisConnection } from '@predict/serving';
import { Counter, type Registry } from 'prom-client';

/** One audit record: who asked for which (hashed) patient's score, and what was answered. Never raw ids or features. */
export interface AuditRecord {
  at: string;
  request_id: string;
  /** Index of the instance in a batch request; 0 for a single prediction. */
  index: number;
  /** The caller's API key id (never the key); `anonymous` with auth disabled. */
  key_id: string;
  /** HMAC-SHA256 (hex) of the patient id under AUDIT_HMAC_KEY; null for inline features. */
  patient_hmac: string | null;
  source: 'store' | 'inline';
  model: string;
  model_version: string;
  risk_score: number;
  risk_band: string;
}

/** One answered prediction, as an audit record needs it. */
export interface AuditedPrediction {
  index: number;
  /** HMAC of the patient id (AuditLog.hmac); null for inline features. */
  patientHmac: string | null;
  output: { risk_score: number; risk_band: string };
}

/**
 * The audit records of one request's (or one job chunk's) answered predictions: the same fields online and in
 * the batch tier. `keyId` undefined (auth disabled) is recorded as `anonymous`.
 */
export function auditRecords(
  at: string,
  who: { requestId: string; keyId: string | undefined },
  model: { name: string; version: string },
  predictions: readonly AuditedPrediction[],
): AuditRecord[] {
  return predictions.map(({ index, patientHmac, output }) => ({
    at,
    request_id: who.requestId,
    index,
    key_id: who.keyId ?? 'anonymous',
    patient_hmac: patientHmac,
    source: patientHmac === null ? 'inline' : 'store',
    model: model.name,
    model_version: model.version,
    risk_score: output.risk_score,
    risk_band: output.risk_band,
  }));
}

/** Roster members hashed between two yields to the event loop (a few ms of CPU). */
export const HMAC_SLICE = 1000;

/**
 * The ids among `ids` whose HMAC is in `wanted`, in roster order, stopping once every wanted HMAC is found. It
 * yields to the event loop every HMAC_SLICE ids: hashing a 100,000-person roster takes ~300 ms of CPU, which in
 * one piece would hold up every other request of the replica.
 */
export async function matchHmacs(
  ids: readonly string[],
  wanted: ReadonlySet<string>,
  hmac: (patientId: string) => string,
): Promise<{ patient_hmac: string; patient_id: string }[]> {
  const found: { patient_hmac: string; patient_id: string }[] = [];
  for (let i = 0; i < ids.length && found.length < wanted.size; i++) {
    if (i > 0 && i % HMAC_SLICE === 0) await yieldToEventLoop();
    const id = ids[i] as string;
    const digest = hmac(id);
    if (wanted.has(digest)) found.push({ patient_hmac: digest, patient_id: id });
  }
  return found;
}

export interface AuditLogOptions {
  hmacKey: string;
  required: boolean;
  maxLen: number;
  dedupeSeconds: number;
  registry: Registry;
}

/** The write script as ioredis defines it on the connection (EVALSHA, falling back to EVAL once per connection). */
interface WriteCommand {
  iitAuditWrite(keyCount: number, ...keysThenArgs: string[]): Promise<number[]>;
}

/** One request's records waiting for the next script call, and how to tell the request what became of them. */
interface Pending {
  requestId: string;
  records: readonly string[];
  /** Written (or a retry, written before): no error; not written: the error. The counters are moved by flush. */
  settle(error?: Error): void;
}

/** Most requests one script call carries (the script claims one marker per request). */
export const MAX_FLUSH_REQUESTS = 64;
/** Most records one script call carries; a request with more (a batch job's chunk) is sent alone. */
const MAX_FLUSH_RECORDS = 1000;

/**
 * Appends every request's prediction records to the Redis stream `<prefix>iit-risk:audit` with a script that
 * first claims `<prefix>iit-risk:audit:request:<request id>` (SET NX EX): a retry of the same request id (a
 * proxy's) never writes twice. With Redis down, AUDIT_REQUIRED answers 503 audit_unavailable; otherwise the
 * prediction is answered unaudited and `iit_audit_unwritten_total` counts it.
 *
 * Group commit: one script call (EVALSHA) is in flight at a time; requests arriving meanwhile queue, and the
 * next call carries all of them (up to MAX_FLUSH_REQUESTS / MAX_FLUSH_RECORDS), answering each request's own
 * outcome. The first call after idle goes out at the end of the current tick (process.nextTick, no timer), so
 * the requests one model run answered share it and a lone request waits for nothing.
 */
export class AuditLog {
  private readonly unwritten: Counter;
  private readonly written: Counter;
  private readonly duplicate: Counter;
  private readonly queue: Pending[] = [];
  private flushing = false;
  /** AUDIT_HMAC_KEY as a key object, made once (not from the string on every hash). */
  private readonly hmacKey: KeyObject;

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: AuditLogOptions,
  ) {
    this.hmacKey = createSecretKey(Buffer.from(options.hmacKey, 'utf8'));
    this.unwritten = new Counter({ name: 'iit_audit_unwritten_total', help: 'Predictions answered without an audit record (Redis down, AUDIT_REQUIRED=false)', registers: [options.registry] });
    this.written = new Counter({ name: 'iit_audit_records_total', help: 'Audit records written', registers: [options.registry] });
    this.duplicate = new Counter({ name: 'iit_audit_duplicate_requests_total', help: 'Requests whose id already had audit records (retries): nothing written again', registers: [options.registry] });
    if (!('iitAuditWrite' in redis.client)) redis.client.defineCommand('iitAuditWrite', { lua: WRITE_ONCE });
  }

  get stream(): string {
    return this.redis.key('iit-risk', 'audit');
  }

  hmac(patientId: string): string {
    return createHmac('sha256', this.hmacKey).update(patientId).digest('hex');
  }

  /** Writes a request's records once; throws 503 audit_unavailable when it cannot and audit is required. */
  async write(requestId: string, records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      if (!this.redis.ready) throw new Error('redis not ready');
      const json = records.map((r) => JSON.stringify(r));
      await new Promise<void>((resolve, reject) => {
        this.queue.push({ requestId, records: json, settle: (error) => (error ? reject(error) : resolve()) });
        if (!this.flushing) {
          // After the current tick, not on a timer: the requests a model run answered together (resolved in
          // the same microtask drain) share the call, and a lone request is still sent before any I/O wait.
          this.flushing = true;
          process.nextTick(() => void this.flush());
        }
      });
    } catch {
      if (this.options.required) {
        throw new ServiceUnavailableError('the audit log (Redis) is unavailable and AUDIT_REQUIRED is true: no prediction is answered unaudited', 'audit_unavailable');
      }
      this.unwritten.inc(records.length);
    }
  }

  /** Sends what is queued, one script call at a time, until the queue is empty. */
  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        let outcomes: number[] | Error;
        try {
          if (!this.redis.ready) throw new Error('redis not ready');
          outcomes = await this.send(batch);
        } catch (error) {
          outcomes = error instanceof Error ? error : new Error(String(error));
        }
        // The counters move once per script call, not once per request.
        let written = 0;
        let duplicates = 0;
        batch.forEach((pending, i) => {
          const outcome = outcomes instanceof Error ? outcomes : (outcomes[i] ?? new Error('the audit script returned no result for a request'));
          if (outcome === 1) written += pending.records.length;
          else if (outcome === 0) duplicates++;
          pending.settle(outcome instanceof Error ? outcome : undefined);
        });
        if (written > 0) this.written.inc(written);
        if (duplicates > 0) this.duplicate.inc(duplicates);
      }
    } finally {
      this.flushing = false;
    }
  }

  /** The next call's requests, oldest first: at least one, then as many as the bounds allow. */
  private take(): Pending[] {
    let n = 0;
    let records = 0;
    for (const pending of this.queue) {
      if (n > 0 && (n >= MAX_FLUSH_REQUESTS || records + pending.records.length > MAX_FLUSH_RECORDS)) break;
      n++;
      records += pending.records.length;
    }
    return this.queue.splice(0, n);
  }

  /** One script call for the batch: KEYS = stream, one marker per request; ARGV = TTL, MAXLEN, then per request its record count and records. */
  private send(batch: readonly Pending[]): Promise<number[]> {
    const keys = [this.stream, ...batch.map((p) => this.redis.key('iit-risk', 'audit', 'request', p.requestId))];
    const args = [String(this.options.dedupeSeconds), String(this.options.maxLen)];
    for (const pending of batch) args.push(String(pending.records.length), ...pending.records);
    return (this.redis.client as unknown as WriteCommand).iitAuditWrite(keys.length, ...keys, ...args);
  }

  /** The newest `limit` records, newest first. */
  async read(limit: number): Promise<(AuditRecord & { id: string })[]> {
    if (!this.redis.ready) throw new ServiceUnavailableError('the audit log (Redis) is unavailable', 'audit_unavailable');
    let entries: [string, string[]][];
    try {
      entries = await this.redis.client.xrevrange(this.stream, '+', '-', 'COUNT', limit);
    } catch {
      throw new ServiceUnavailableError('the audit log (Redis) is unavailable', 'audit_unavailable');
    }
    return entries.map(([id, fields]) => ({ id, ...(JSON.parse(fields[1] ?? '{}') as AuditRecord) }));
  }
}

/**
 * KEYS: the stream, then one request marker per request. ARGV: marker TTL, MAXLEN, then per request its record
 * count followed by its JSON records. Requests are taken in order, so a request id that appears twice in one
 * call writes once (its second claim fails). Returns per request 1 = written, 0 = a retry (nothing written).
 */
const WRITE_ONCE = `
local results = {}
local a = 3
for k = 2, #KEYS do
  local n = tonumber(ARGV[a])
  if redis.call('SET', KEYS[k], '1', 'NX', 'EX', ARGV[1]) then
    for i = a + 1, a + n do redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'record', ARGV[i]) end
    results[#results + 1] = 1
  else
    results[#results + 1] = 0
  end
  a = a + n + 1
end
return results
`;
