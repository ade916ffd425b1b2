/**
 * `pnpm bench` for taxi-eta: `POST /v1/eta` with the prediction log off and on (a real Redis at REDIS_URL),
 * beside the floors measured in the same run — a minimal Express JSON endpoint and the raw model time per
 * row (onnxruntime alone) — and a bare Redis round trip. Not a test: nothing here passes or fails.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONNECTIONS, MINIMAL_EXPRESS, ROUNDS, SECONDS, compareToFloor, hasTaskset, metric, rawModelMicros, runPinned, startServer, stop } from '@predict/bench-kit';
import { ModelRepository, ModelState, servingVersion } from '@predict/serving';
import { FEATURE_COUNT, featurize, type TripInput } from '../src/features';
import { etaRequestSchema } from '../src/schema';

const ROOT = path.resolve(__dirname, '..');
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

runPinned(__filename, main);

/** The serving version's directory and its golden inputs (validated as the service would). */
async function servingModel(): Promise<{ dir: string; inputs: TripInput[] }> {
  const repository = new ModelRepository(path.join(ROOT, 'model'));
  const dir = repository.dir(await servingVersion(repository, new ModelState(repository.root)));
  const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as { rows: { input: unknown }[] };
  return { dir, inputs: golden.rows.map((r) => etaRequestSchema.parse(r.input)) };
}

/** Median wall time of session.run for `n` real feature rows, in microseconds (one onnxruntime thread). */
async function rawMicros(n: number, iterations: number): Promise<number> {
  const { dir, inputs } = await servingModel();
  const write = (i: number, out: Float32Array, offset: number) => featurize(inputs[i % inputs.length]!, out, offset);
  return rawModelMicros(path.join(dir, 'model.onnx'), { name: 'features', width: FEATURE_COUNT }, write, n, iterations);
}

async function main(): Promise<void> {
  const body = JSON.stringify({ pickup: { lat: 40.758, lon: -73.9855 }, dropoff: { lat: 40.6413, lon: -73.7781 }, pickup_time: '2016-06-15T17:30' });
  const serviceMain = path.join(ROOT, 'dist', 'main.js');
  console.log(`taxi-eta bench: ${CONNECTIONS} connections, ${SECONDS}s × ${ROUNDS} rounds per scenario; servers on core 0${hasTaskset ? '' : ' (taskset missing: NOT pinned)'}, load on core 1`);
  const rawOne = await rawMicros(1, 3000);
  const raw32 = await rawMicros(32, 1000);

  const common = { LOG_LEVEL: 'info', MODEL_POLL_INTERVAL_MS: '2000' };
  const servers = [
    await startServer({ name: 'minimal-express', args: ['--import', 'tsx', MINIMAL_EXPRESS], env: {}, port: 9201, ready: '/', cwd: ROOT }),
    await startServer({ name: 'taxi-log-off', args: [serviceMain], env: common, port: 9202, ready: '/health/ready', cwd: ROOT }),
    await startServer({
      name: 'taxi-log-on',
      args: [serviceMain],
      // One capped stream (bench:predictions:taxi-eta), reused by every run.
      env: { ...common, PREDICTION_LOG: 'on', REDIS_URL, REDIS_KEY_PREFIX: 'bench:' },
      port: 9203,
      ready: '/health/ready',
      cwd: ROOT,
    }),
  ];
  const { ratio } = await compareToFloor([
    { name: 'minimal Express JSON endpoint (floor)', url: 'http://127.0.0.1:9201/echo', body },
    { name: 'taxi-eta POST /v1/eta, prediction log off', url: 'http://127.0.0.1:9202/v1/eta', body },
    { name: 'taxi-eta POST /v1/eta, prediction log on', url: 'http://127.0.0.1:9203/v1/eta', body },
  ]);
  const written = await metric(9203, 'prediction_log_written_total');
  const dropped = await metric(9203, 'prediction_log_dropped_total');
  const runs = await metric(9202, 'model_batch_size_rows_count');
  const rows = await metric(9202, 'model_batch_size_rows_sum');
  await Promise.all(servers.map(stop));
  console.log(`\nraw model time (onnxruntime alone, 1 thread): batch 1 = ${rawOne.toFixed(1)} µs; batch 32 = ${raw32.toFixed(1)} µs (${(raw32 / 32).toFixed(2)} µs/row)`);
  if (runs !== undefined && rows !== undefined) console.log(`dynamic batching (log off): ${rows} rows in ${runs} model runs = ${(rows / runs).toFixed(1)} rows/run`);
  console.log(`prediction log: ${written ?? '?'} entries written to Redis, ${dropped ?? 0} dropped`);
  console.log(`\ntarget: >= 85% of the floor's rps with the log on → ${(100 * ratio('taxi-eta POST /v1/eta, prediction log on')).toFixed(1)}% (log off ${(100 * ratio('taxi-eta POST /v1/eta, prediction log off')).toFixed(1)}%)`);
}
