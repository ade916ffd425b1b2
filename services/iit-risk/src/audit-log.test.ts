import { HttpError, createLogger, createRedis, type RedisConnection } from '@predict/serving';
import { eventually, LogCapture, TestRedisServer } from '@predict/serving/testing';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createHmac } from 'node:crypto';
import { AuditLog, HMAC_SLICE, MAX_FLUSH_REQUESTS, matchHmacs, type AuditRecord } from './audit-log';

const record = (requestId: string, index = 0): AuditRecord => ({
  at: new Date().toISOString(),
  request_id: requestId,
  index,
  key_id: 'clinic',
  patient_hmac: null,
  source: 'inline',
  model: 'iit-risk',
  model_version: '1',
  risk_score: 0.25,
  risk_band: 'low',
});

/**
 * The audit log's group commit on a private redis-server, so its command statistics count these writes only:
 * concurrent requests share script calls (EVALSHA), each request's records land once, a request id repeated
 * inside one call still writes once, and queued requests all fail (or are counted unwritten) when Redis goes.
 */
describe('AuditLog group commit, on a private Redis', () => {
  let server: TestRedisServer;
  let stats: Redis;
  const open: RedisConnection[] = [];

  beforeEach(async () => {
    server = await TestRedisServer.start();
    stats = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    stats.disconnect();
    await Promise.all(open.splice(0).map((c) => c.stop()));
    await server.stop();
  });

  async function auditLog(required = true) {
    const redis = createRedis({ REDIS_URL: server.url, REDIS_KEY_PREFIX: 'audit-test:' }, createLogger({ service: 'test', level: 'error', stream: new LogCapture() }), {
      role: 'feature-store',
      commandTimeoutMs: 1000,
    });
    open.push(redis);
    redis.start();
    await eventually(() => redis.ready, 'the connection to be ready');
    const registry = new Registry();
    const audit = new AuditLog(redis, { hmacKey: 'test-only-hmac-key-0123456789abcdef', required, maxLen: 100_000, dedupeSeconds: 60, registry });
    const counter = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
    return { audit, counter };
  }

  const scriptCalls = async () => {
    const info = await stats.info('commandstats');
    const calls = (name: string) => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return { eval: calls('eval'), evalsha: calls('evalsha') };
  };

  /** request_id of every record in the stream, in stream order. */
  const streamed = async () => (await stats.xrange('audit-test:iit-risk:audit', '-', '+')).map(([, fields]) => (JSON.parse(fields[1] ?? '{}') as AuditRecord).request_id);

  it('sends concurrent requests in few script calls (bounded per call), each request’s records exactly once', async () => {
    const { audit, counter } = await auditLog();
    await stats.config('RESETSTAT');
    const n = 150;
    const ids = Array.from({ length: n }, (_, i) => `req-${i}`);
    // Request i carries 1 + i % 3 records.
    const write = (id: string, i: number) => audit.write(id, Array.from({ length: 1 + (i % 3) }, (_, k) => record(id, k)));
    // The first is sent alone (the frozen server holds it in flight); the other 149 queue behind it and go,
    // once it is answered, in calls of at most MAX_FLUSH_REQUESTS.
    server.pause();
    const first = write(ids[0] as string, 0);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = ids.slice(1).map((id, i) => write(id, i + 1));
    server.resume();
    await Promise.all([first, ...rest]);
    const calls = await scriptCalls();
    expect(calls.eval + calls.evalsha).toBe(1 + Math.ceil((n - 1) / MAX_FLUSH_REQUESTS));
    expect(calls.evalsha).toBeGreaterThan(0); // the script body is sent once per connection, then its SHA
    const got = await streamed();
    const expected = ids.flatMap((id, i) => Array.from({ length: 1 + (i % 3) }, () => id));
    expect([...got].sort()).toEqual([...expected].sort());
    expect(await counter('iit_audit_records_total')).toBe(expected.length);
    expect(await counter('iit_audit_duplicate_requests_total')).toBe(0);
  });

  it('writes a request id once even when it appears twice in one call, and never again on a later retry', async () => {
    const { audit, counter } = await auditLog();
    await stats.config('RESETSTAT');
    // Written in the same tick: one call carries all four, `dup` twice.
    await Promise.all([
      audit.write('first', [record('first')]),
      audit.write('dup', [record('dup', 0), record('dup', 1)]),
      audit.write('dup', [record('dup', 0), record('dup', 1)]),
      audit.write('other', [record('other')]),
    ]);
    const calls = await scriptCalls();
    expect(calls.eval + calls.evalsha).toBe(1);
    expect(await streamed()).toEqual(['first', 'dup', 'dup', 'other']);
    expect(await counter('iit_audit_records_total')).toBe(4);
    expect(await counter('iit_audit_duplicate_requests_total')).toBe(1);
    await audit.write('dup', [record('dup', 0)]);
    expect((await streamed()).length).toBe(4);
    expect(await counter('iit_audit_duplicate_requests_total')).toBe(2);
  });

  it('answers 503 audit_unavailable to the request in flight and every queued one when Redis goes (AUDIT_REQUIRED=true)', async () => {
    const { audit, counter } = await auditLog(true);
    server.pause(); // the first call hangs in flight; the rest queue behind it
    const write = (i: number) => audit.write(`down-${i}`, [record(`down-${i}`)]).then(() => 'written', (error: unknown) => error);
    const first = write(0);
    await new Promise((resolve) => setImmediate(resolve));
    const writes = [first, ...[1, 2, 3, 4].map(write)];
    await server.stop();
    const outcomes = await Promise.all(writes);
    for (const outcome of outcomes) {
      expect(outcome).toBeInstanceOf(HttpError);
      expect(outcome).toMatchObject({ status: 503, code: 'audit_unavailable' });
    }
    expect(await counter('iit_audit_records_total')).toBe(0);
    expect(await counter('iit_audit_unwritten_total')).toBe(0);
  });

  it('answers every queued request unaudited and counts them when Redis goes (AUDIT_REQUIRED=false)', async () => {
    const { audit, counter } = await auditLog(false);
    server.pause();
    const write = (i: number) => audit.write(`down-${i}`, [record(`down-${i}`), record(`down-${i}`, 1)]);
    const first = write(0);
    await new Promise((resolve) => setImmediate(resolve));
    const writes = [first, ...[1, 2, 3, 4].map(write)];
    await server.stop();
    await Promise.all(writes);
    expect(await counter('iit_audit_unwritten_total')).toBe(10);
    expect(await counter('iit_audit_records_total')).toBe(0);
  });
});

describe('matchHmacs: resolving facility job HMACs to roster ids', () => {
  const hmac = (id: string) => createHmac('sha256', 'test-key').update(id).digest('hex');
  const roster = Array.from({ length: 3 * HMAC_SLICE + 5 }, (_, i) => `P-${i}`);

  it('answers the ids of the wanted HMACs in roster order, leaving unknown HMACs out, and stops once all are found', async () => {
    let hashed = 0;
    const counting = (id: string) => (hashed++, hmac(id));
    const found = await matchHmacs(roster, new Set([hmac('P-2500'), hmac('P-7')]), counting);
    expect(found).toEqual([
      { patient_hmac: hmac('P-7'), patient_id: 'P-7' },
      { patient_hmac: hmac('P-2500'), patient_id: 'P-2500' },
    ]);
    expect(hashed).toBe(2501);
    expect(await matchHmacs(roster, new Set([hmac('nobody')]), hmac)).toEqual([]);
  });

  it('lets the event loop run between slices of a large roster (other requests are not held up)', async () => {
    let hashed = 0;
    const counting = (id: string) => (hashed++, hmac(id));
    const seen: number[] = [];
    const tick = () => {
      seen.push(hashed);
      if (hashed < roster.length) setImmediate(tick);
    };
    setImmediate(tick); // queued before the call: it runs at the first yield
    await matchHmacs(roster, new Set([hmac('nobody')]), counting);
    expect(hashed).toBe(roster.length);
    expect(seen.slice(0, 3)).toEqual([HMAC_SLICE, 2 * HMAC_SLICE, 3 * HMAC_SLICE]);
  });
});
