/**
 * `pnpm bench` for iit-risk: `POST /v1/predict` with features inline and from the feature store (a real Redis
 * at REDIS_URL), beside floors measured in the same run: a minimal Express JSON endpoint (inline) and an
 * Express endpoint doing one bare Redis GET (store-backed), plus the raw model time per row. Audit records
 * are written (AUDIT_REQUIRED=true), as in production. Not a test: nothing here passes or fails.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONNECTIONS, MINIMAL_EXPRESS, ROUNDS, SECONDS, compareToFloor, hasTaskset, metric, rawModelMicros, runPinned, startServer, stop } from '@predict/bench-kit';
import { ModelRepository, ModelState, servingVersion } from '@predict/serving';
import { Redis } from 'ioredis';
import { FEATURE_COUNT, featurize, type PatientFeatures } from '../src/features';

const ROOT = path.resolve(__dirname, '..');
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/** BENCH_KEY_PREFIX: a key prefix of your own on a shared Redis (its audit stream and markers are deleted after). */
const PREFIX = process.env['BENCH_KEY_PREFIX'] ?? 'bench:';
const PATIENT = 'bench-patient';
/** Three ports from 7581 (BENCH_PORT moves the base: pick free ones on a shared machine). */
const BASE_PORT = Number(process.env['BENCH_PORT'] ?? 7581);
const PORTS = { floor: BASE_PORT, floorRedis: BASE_PORT + 1, service: BASE_PORT + 2 };

runPinned(__filename, main);

async function main(): Promise<void> {
  // The version the service serves (model/active), as the core resolves it: its golden people and its graph.
  const models = path.join(ROOT, 'model');
  const versionDir = path.join(models, await servingVersion(new ModelRepository(models), new ModelState(models)));
  const golden = JSON.parse(readFileSync(path.join(versionDir, 'golden.json'), 'utf8')) as { rows: { input: { features: PatientFeatures } }[] };
  const people = golden.rows.map((r) => r.input.features);
  const features = people[0] as PatientFeatures;
  console.log(`iit-risk bench: ${CONNECTIONS} connections, ${SECONDS}s × ${ROUNDS} rounds per scenario; servers on core 0${hasTaskset ? '' : ' (taskset missing: NOT pinned)'}, load on core 1`);
  const write = (i: number, out: Float32Array, offset: number) => featurize(people[i % people.length] as PatientFeatures, out, offset);
  const rawOne = await rawModelMicros(path.join(versionDir, 'model.onnx'), { name: 'features', width: FEATURE_COUNT }, write, 1, 3000);
  const raw32 = await rawModelMicros(path.join(versionDir, 'model.onnx'), { name: 'features', width: FEATURE_COUNT }, write, 32, 1000);

  const redis = new Redis(REDIS_URL);
  await redis.set(`${PREFIX}iit-risk:features:${PATIENT}`, JSON.stringify(features));
  const env = { LOG_LEVEL: 'info', REDIS_URL, REDIS_KEY_PREFIX: PREFIX, AUDIT_HMAC_KEY: 'bench-only-hmac-key-0123456789abcdef', AUDIT_MAXLEN: '100000' };
  const servers = [
    await startServer({ name: 'minimal-express', args: ['--import', 'tsx', MINIMAL_EXPRESS], env: {}, port: PORTS.floor, ready: '/', cwd: ROOT }),
    await startServer({ name: 'express-redis-get', args: ['--import', 'tsx', path.join(__dirname, 'express-redis-get.ts')], env: { REDIS_URL, REDIS_KEY_PREFIX: PREFIX, BENCH_PATIENT: PATIENT }, port: PORTS.floorRedis, ready: '/', cwd: ROOT }),
    await startServer({ name: 'iit-risk', deployable: 'iit-risk', args: [path.join(ROOT, 'dist', 'main.js')], env, port: PORTS.service, ready: '/health/ready', cwd: ROOT }),
  ];
  const inline = JSON.stringify({ features });
  const stored = JSON.stringify({ patient_id: PATIENT });
  const { ratio } = await compareToFloor([
    { name: 'minimal Express JSON endpoint (floor)', url: `http://127.0.0.1:${PORTS.floor}/echo`, body: inline },
    { name: 'Express + one bare Redis GET (store floor)', url: `http://127.0.0.1:${PORTS.floorRedis}/get`, body: stored },
    { name: 'iit-risk POST /v1/predict, features inline', url: `http://127.0.0.1:${PORTS.service}/v1/predict`, body: inline },
    { name: 'iit-risk POST /v1/predict, patient_id (store)', url: `http://127.0.0.1:${PORTS.service}/v1/predict`, body: stored },
  ]);
  const audited = await metric(PORTS.service, 'iit_audit_records_total');
  const runs = await metric(PORTS.service, 'model_batch_size_rows_count');
  const rows = await metric(PORTS.service, 'model_batch_size_rows_sum');
  await Promise.all(servers.map(stop));
  await redis.del(`${PREFIX}iit-risk:features:${PATIENT}`, `${PREFIX}iit-risk:audit`);
  // The per-request dedupe markers expire on their own (AUDIT_DEDUPE_SECONDS); remove them now.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}iit-risk:audit:request:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  console.log(`\nraw model time (onnxruntime alone, 1 thread, risk + contributions): batch 1 = ${rawOne.toFixed(1)} µs; batch 32 = ${raw32.toFixed(1)} µs (${(raw32 / 32).toFixed(2)} µs/row)`);
  if (runs !== undefined && rows !== undefined) console.log(`dynamic batching: ${rows} rows in ${runs} model runs = ${(rows / runs).toFixed(1)} rows/run; audit records written: ${audited ?? '?'}`);
  const storeVsFloor = ratio('iit-risk POST /v1/predict, patient_id (store)') / ratio('Express + one bare Redis GET (store floor)');
  console.log(`\ntarget: inline >= 85% of the floor's rps → ${(100 * ratio('iit-risk POST /v1/predict, features inline')).toFixed(1)}%; store-backed vs the Express + Redis GET floor → ${(100 * storeVsFloor).toFixed(1)}%`);
}
