import { createHmac } from 'node:crypto';
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

export interface AuditLogOptions {
  hmacKey: string;
  required: boolean;
  maxLen: number;
  dedupeSeconds: number;
  registry: Registry;
}

/**
 * Appends every request's prediction records to the Redis stream `<prefix>iit-risk:audit` in one atomic script
 * that first claims `<prefix>iit-risk:audit:request:<request id>` (SET NX EX): a retry of the same request id
 * (a proxy's) never writes twice. With Redis down, AUDIT_REQUIRED answers 503 audit_unavailable; otherwise the
 * prediction is answered unaudited and `iit_audit_unwritten_total` counts it.
 */
export class AuditLog {
  private readonly unwritten: Counter;
  private readonly written: Counter;
  private readonly duplicate: Counter;

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: AuditLogOptions,
  ) {
    this.unwritten = new Counter({ name: 'iit_audit_unwritten_total', help: 'Predictions answered without an audit record (Redis down, AUDIT_REQUIRED=false)', registers: [options.registry] });
    this.written = new Counter({ name: 'iit_audit_records_total', help: 'Audit records written', registers: [options.registry] });
    this.duplicate = new Counter({ name: 'iit_audit_duplicate_requests_total', help: 'Requests whose id already had audit records (retries): nothing written again', registers: [options.registry] });
  }

  get stream(): string {
    return this.redis.key('iit-risk', 'audit');
  }

  hmac(patientId: string): string {
    return createHmac('sha256', this.options.hmacKey).update(patientId).digest('hex');
  }

  /** Writes a request's records once; throws 503 audit_unavailable when it cannot and audit is required. */
  async write(requestId: string, records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      if (!this.redis.ready) throw new Error('redis not ready');
      const fresh = (await this.redis.client.eval(
        WRITE_ONCE,
        2,
        this.redis.key('iit-risk', 'audit', 'request', requestId),
        this.stream,
        String(this.options.dedupeSeconds),
        String(this.options.maxLen),
        ...records.map((r) => JSON.stringify(r)),
      )) as number;
      if (fresh === 1) this.written.inc(records.length);
      else this.duplicate.inc();
    } catch {
      if (this.options.required) {
        throw new ServiceUnavailableError('the audit log (Redis) is unavailable and AUDIT_REQUIRED is true: no prediction is answered unaudited', 'audit_unavailable');
      }
      this.unwritten.inc(records.length);
    }
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

/** KEYS: request marker, stream. ARGV: marker TTL, MAXLEN, then one JSON record each. 1 = written, 0 = a retry. */
const WRITE_ONCE = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
for i = 3, #ARGV do redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'record', ARGV[i]) end
return 1
`;
