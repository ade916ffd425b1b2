import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { iitRiskBatchParts, type PatientFeaturesInput } from '@predict/iit-risk/batch';
import { iitRiskPredictor } from '@predict/iit-risk/predictor';
import { JobFailedError } from '@predict/jobs';
import { HttpError, ModelRepository, ModelState, Registry, createLogger, createServingMetrics, servingVersion } from '@predict/serving';
import { LogCapture, deleteKeys, eventually, testRedisUrl, uniqueKeyPrefix } from '@predict/serving/testing';
import request from 'supertest';
import { createApp } from './app';
import { loadConfig } from './config';
import { testProducer, uniqueQueuePrefix } from './test-support';
import { WorkerTier } from './worker-tier';

/**
 * iit-risk in the worker tier, on a real Redis and the real model: the `facility` source scores a roster from
 * the feature store through the service's own predictor; results carry patient HMACs, never ids; every row is
 * audited once per chunk; Bull-board, logs and metrics show no patient id or feature value.
 */

const HMAC_KEY = 'batch-test-hmac-key-0123456789abcdef';
const ADMIN_KEY = 'admin-key-value-cccccccccccccccccccc';
const FACILITY = 'CLINIC-Z';
const storePrefix = uniqueKeyPrefix('iit-batch');
const prefix = uniqueQueuePrefix('iit');
const storeEnv = { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: storePrefix, AUDIT_HMAC_KEY: HMAC_KEY, FEATURE_TTL_DAYS: '2' };
const hmac = (id: string) => createHmac('sha256', HMAC_KEY).update(id).digest('hex');
/** Distinctive ids and a distinctive feature value: none may show up in Bull-board, a log line or a metric. */
const id = (i: number) => `PZ-secret-${i}`;
const UNKNOWN = 'UNKNOWN-secret-77';
const ODD_VALUE = 987.125;

const IIT_MODEL_DIR = path.join(path.dirname(require.resolve('@predict/iit-risk/package.json')), 'model');
/** The iit-risk version the worker serves (the one `model/active` names), as the core resolves it. */
let served: string;
/** Held-out SYNTHETIC people of that version's golden file, with XGBoost's scores. */
let golden: { input: { features: PatientFeaturesInput }; risk: number }[];

const logs = new LogCapture();
const logger = createLogger({ service: 'batch-worker-test', level: 'debug', stream: logs });
const metrics = createServingMetrics(new Registry(), { defaultMetrics: false });
/** The store as the iit-risk service writes it (same variables), for seeding and direct checks. */
const seed = iitRiskBatchParts({ env: storeEnv, logger, metrics: createServingMetrics(new Registry(), { defaultMetrics: false }) });
const config = loadConfig({
  REDIS_URL: testRedisUrl(),
  JOBS_PREFIX: prefix,
  WORKER_QUEUES: 'iit-risk',
  INFERENCE_MODE: 'worker',
  INFERENCE_WORKERS: '1',
  MODEL_POLL_INTERVAL_MS: '0',
  API_KEYS_ADMIN: `ops:${ADMIN_KEY}`,
});
let tier: WorkerTier;
let producer: Awaited<ReturnType<typeof testProducer>>;

beforeAll(async () => {
  served = await servingVersion(new ModelRepository(IIT_MODEL_DIR), new ModelState(IIT_MODEL_DIR));
  golden = (JSON.parse(readFileSync(path.join(IIT_MODEL_DIR, served, 'golden.json'), 'utf8')) as { rows: typeof golden }).rows.slice(0, 10);
  producer = await testProducer(prefix, 'iit-risk');
  seed.start();
  await eventually(() => seed.redis.ready, 'the store connection', 20_000);
  for (const [i, row] of golden.entries()) await seed.store.put(id(i), { ...row.input.features, facility_id: FACILITY });
  tier = new WorkerTier({
    config,
    services: [{ queue: 'iit-risk', predictor: iitRiskPredictor, sensitive: true, parts: (deps) => iitRiskBatchParts({ ...deps, env: storeEnv }) }],
    logger,
    metrics,
  });
  await tier.start();
}, 180_000);

afterAll(async () => {
  await tier?.stop(10_000);
  await seed.stop();
  if (producer) await deleteKeys(producer.redis, storePrefix);
  await producer?.cleanup();
}, 60_000);

async function results(jobId: string) {
  const lines: { index: number; output?: Record<string, unknown>; error?: { code: string } }[] = [];
  for await (const line of producer.producer.readResults(jobId)) lines.push(line as (typeof lines)[number]);
  return lines;
}

async function auditRecords(requestId: string): Promise<Record<string, unknown>[]> {
  const entries = await producer.redis.xrange(`${storePrefix}iit-risk:audit`, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as Record<string, unknown>).filter((r) => r['request_id'] === requestId);
}

test('a facility job scores every stored patient of the facility with the real model; results and audit carry HMACs, never ids', async () => {
  const { jobId } = await producer.producer.enqueue({ kind: 'source', source: 'facility', params: { facility_id: FACILITY } }, { chunkRows: 4, submittedBy: 'clinic-key' });
  const summary = await producer.producer.waitForJob(jobId, { timeoutMs: 120_000 });
  expect(summary).toMatchObject({ rows: 10, ok: 10, failed: 0, chunks: 3, model: { name: 'iit-risk', version: served } });

  const lines = await results(jobId);
  const byHmac = new Map(golden.map((row, i) => [hmac(id(i)), row.risk]));
  expect(lines.map((l) => l.index)).toEqual([...Array(10).keys()]);
  for (const line of lines) {
    const out = line.output as { patient_hmac: string; risk_score: number; risk_band: string; top_factors: unknown[] };
    // The same predictor and store lookup as the HTTP service: XGBoost's own score (golden parity).
    expect(Math.abs(out.risk_score - (byHmac.get(out.patient_hmac) as number))).toBeLessThan(1e-5);
    expect(['low', 'medium', 'high']).toContain(out.risk_band);
    expect(Array.isArray(out.top_factors)).toBe(true);
  }
  expect(new Set(lines.map((l) => l.output?.['patient_hmac'])).size).toBe(10);
  expect(JSON.stringify(lines)).not.toContain('PZ-secret');

  const audit = await auditRecords(`job:${jobId}`);
  expect(audit.map((r) => r['index']).sort((a, b) => (a as number) - (b as number))).toEqual([...Array(10).keys()]);
  for (const r of audit) expect(r).toMatchObject({ key_id: 'clinic-key', source: 'store', model: 'iit-risk', model_version: served });
  expect(new Set(audit.map((r) => r['patient_hmac']))).toEqual(new Set(byHmac.keys()));
  expect(JSON.stringify(audit)).not.toContain('PZ-secret');
}, 180_000);

test('an inline job: store-backed and inline rows answered (unknown id in place), audited; Bull-board shows neither ids nor features', async () => {
  const odd = { ...(golden[1] as (typeof golden)[number]).input.features, travel_time_minutes: ODD_VALUE };
  const { jobId } = await producer.producer.enqueueInstances([{ patient_id: id(0) }, { features: odd }, { patient_id: UNKNOWN }]);
  await producer.producer.waitForJob(jobId, { timeoutMs: 120_000 });
  const lines = await results(jobId);
  expect(lines[0]?.output?.['patient_hmac']).toBe(hmac(id(0)));
  expect(lines[1]?.output).toBeDefined();
  expect(lines[1]?.output?.['patient_hmac']).toBeUndefined();
  expect(lines[2]?.error?.code).toBe('patient_not_found');
  const audit = await auditRecords(`job:${jobId}`);
  expect(audit.map((r) => [r['index'], r['source'], r['patient_hmac']]).sort()).toEqual([
    [0, 'store', hmac(id(0))],
    [1, 'inline', null],
  ]);

  // The raw job data does hold them (so the scan below can fail) ...
  const raw = JSON.stringify((await producer.producer.getJob(jobId))?.data);
  expect(raw).toContain(UNKNOWN);
  expect(raw).toContain(String(ODD_VALUE));
  // ... Bull-board's API, listing every job of the queue and this one alone, never does.
  const app = createApp({ config, version: 'test', logger, metrics, tier, startedAt: new Date(), isDraining: () => false });
  const list = await request(app).get('/admin/queues/api/queues?activeQueue=iit-risk&status=latest&page=1&jobsPerPage=50').set('X-API-Key', ADMIN_KEY).expect(200);
  const one = await request(app).get(`/admin/queues/api/queues/iit-risk/${jobId}`).set('X-API-Key', ADMIN_KEY).expect(200);
  const shown = JSON.stringify(list.body) + JSON.stringify(one.body);
  expect(shown).toContain(jobId);
  expect(one.body.job.data).toMatchObject({ input: { kind: 'inline', instances: '[3 instances redacted]' } });
  for (const secret of ['PZ-secret', UNKNOWN, String(ODD_VALUE), 'age_years']) expect(shown).not.toContain(secret);
  await request(app).get('/admin/queues/api/queues').expect(401);
}, 180_000);

test('a facility with no stored patient, or bad params, fails at once with a clear reason', async () => {
  const failedReason = async (params: Record<string, unknown>) => {
    const { jobId } = await producer.producer.enqueue({ kind: 'source', source: 'facility', params });
    await expect(producer.producer.waitForJob(jobId, { timeoutMs: 60_000 })).rejects.toBeInstanceOf(JobFailedError);
    let job = await producer.producer.getJob(jobId);
    await eventually(async () => Boolean((job = await producer.producer.getJob(jobId))?.failedReason), 'the failed reason', 10_000);
    // Refused, not retried: attempts would not help.
    expect(job?.attemptsMade).toBe(1);
    return job?.failedReason;
  };
  expect(await failedReason({ facility_id: 'NOBODY' })).toContain('no stored patients for this facility_id');
  expect(await failedReason({ facility_id: 'bad id' })).toContain('params.facility_id');
}, 120_000);

test('a job’s roster is frozen at its first attempt: a retried or taken-over attempt reads the same people in the same rows', async () => {
  const facility = seed.sources.facility;
  const ctx = { jobId: `snap-${Date.now()}`, ttlSeconds: 60 };
  const n = await facility.count({ facility_id: FACILITY }, ctx);
  const first = await facility.read({ facility_id: FACILITY }, 0, n, ctx);
  await seed.store.put('PZ-late-arrival', { ...(golden[0] as (typeof golden)[number]).input.features, facility_id: FACILITY });
  expect(await facility.count({ facility_id: FACILITY }, ctx)).toBe(n);
  expect(await facility.read({ facility_id: FACILITY }, 0, n, ctx)).toEqual(first);
  expect(await facility.read({ facility_id: FACILITY }, 4, 8, ctx)).toEqual(first.slice(4, 8));
  // A new job sees the roster as it is now.
  expect(await facility.count({ facility_id: FACILITY }, { ...ctx, jobId: `${ctx.jobId}-b` })).toBe(n + 1);
  await expect(facility.count({ facility_id: 'x y' }, ctx)).rejects.toThrow(HttpError);
});

test('a retried chunk never writes its audit records twice; AUDIT_REQUIRED decides what happens when the audit stream is down', async () => {
  const chunk = {
    jobId: `retry-${Date.now()}`,
    chunk: 2,
    base: 8,
    rows: [{ patient_id: id(3) }, { features: golden[4]?.input.features }],
    results: [
      { ok: true as const, output: { risk_score: 0.4, risk_band: 'medium' as const, top_factors: [] } },
      { ok: true as const, output: { risk_score: 0.1, risk_band: 'low' as const, top_factors: [] } },
    ],
    model: { name: 'iit-risk', version: '1' },
    submittedBy: 'clinic-key',
  };
  expect(await seed.afterChunk(chunk)).toEqual([{ patient_hmac: hmac(id(3)) }, undefined]);
  await seed.afterChunk(chunk);
  const records = await auditRecords(`job:${chunk.jobId}`);
  expect(records.map((r) => r['index']).sort()).toEqual([8, 9]);

  // The audit Redis unreachable (nothing listens on this port).
  const down = { ...storeEnv, REDIS_URL: 'redis://127.0.0.1:7651' };
  const required = iitRiskBatchParts({ env: down, logger, metrics: createServingMetrics(new Registry(), { defaultMetrics: false }) });
  const optionalMetrics = createServingMetrics(new Registry(), { defaultMetrics: false });
  const optional = iitRiskBatchParts({ env: { ...down, AUDIT_REQUIRED: 'false' }, logger, metrics: optionalMetrics });
  try {
    await expect(required.afterChunk(chunk)).rejects.toMatchObject({ code: 'audit_unavailable' });
    const inlineOnly = { ...chunk, rows: chunk.rows.slice(1), results: chunk.results.slice(1) };
    expect(await optional.afterChunk(inlineOnly)).toEqual([undefined]);
    expect(await optionalMetrics.registry.getSingleMetricAsString('iit_audit_unwritten_total')).toMatch(/iit_audit_unwritten_total 1$/m);
  } finally {
    await required.stop();
    await optional.stop();
  }
});

test('no patient id or feature value in any worker log line or metric', async () => {
  const text = JSON.stringify(logs.lines) + (await metrics.registry.metrics());
  expect(logs.lines.some((l) => l['message'] === 'job completed')).toBe(true);
  for (const secret of ['PZ-secret', 'PZ-late', UNKNOWN, String(ODD_VALUE)]) expect(text).not.toContain(secret);
});
