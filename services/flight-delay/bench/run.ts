/**
 * `pnpm bench`: autocannon against the flight-delay service on loopback, beside two floors measured in the
 * same run — a minimal Express JSON endpoint, and the raw model time per row (onnxruntime alone).
 *
 * The server under test is pinned to core 0 (`taskset -c 0`) and this load generator to core 1, so "one
 * core" means one core. Scenarios alternate for BENCH_ROUNDS rounds and the medians are reported; this
 * machine is noisy, so read ratios, not absolutes. Not a test: nothing here passes or fails.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  CONNECTIONS,
  MINIMAL_EXPRESS,
  ROUNDS,
  SECONDS,
  compareToFloor,
  hasTaskset,
  load,
  median,
  metric,
  rawModelMicros,
  runPinned,
  startServer as start,
  stop,
  type Load,
} from '@predict/bench-kit';
import { ModelRepository, PredictorRuntime, createLogger } from '@predict/serving';
import { LogCapture } from '@predict/serving/testing';
import { parseFeatureTables, featurize, FEATURE_COUNT, type FlightInput } from '../src/features';
import { flightDelayPredictor } from '../src/predictor';

const ROOT = path.resolve(__dirname, '..');

runPinned(__filename, main);

/** A server of this service's folder, pinned to core 0 unless `pinned` is false. */
const startServer = (name: string, args: string[], env: Record<string, string>, port: number, ready: string, pinned = true) =>
  start({ name, args, env, port, ready, pinned, cwd: ROOT });

/** The newest model version directory (what the service serves by default) and its golden inputs. */
async function newestModel(): Promise<{ dir: string; inputs: FlightInput[] }> {
  const repository = new ModelRepository(path.join(ROOT, 'model'));
  const dir = repository.dir(await repository.newest());
  const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as { rows: { input: FlightInput }[] };
  return { dir, inputs: golden.rows.map((r) => r.input) };
}

/** Median wall time of session.run for `n` real feature rows, in microseconds (one onnxruntime thread). */
async function rawMicros(n: number, iterations: number): Promise<number> {
  const { dir, inputs } = await newestModel();
  const tables = parseFeatureTables(JSON.parse(readFileSync(path.join(dir, 'features.json'), 'utf8')));
  const write = (i: number, out: Float32Array, offset: number) => featurize(inputs[i % inputs.length]!, tables, out, offset);
  return rawModelMicros(path.join(dir, 'model.onnx'), { name: 'features', width: FEATURE_COUNT }, write, n, iterations);
}

/**
 * Long runs: 4 connections post 1,000-instance batches (one session.run of up to 1,000 rows each) while 8
 * connections poll /health/live. Inline, every run blocks the JavaScript thread and the health checks wait;
 * on the worker pool they do not. The server may use both cores here (the pool needs a second thread).
 */
async function largeBatches(serviceMain: string): Promise<void> {
  const { inputs } = await newestModel();
  const body = JSON.stringify({ instances: Array.from({ length: 1000 }, (_, i) => inputs[i % inputs.length]) });
  console.log('\nlarge batches (1,000 instances each) + 8 connections probing /health/live, server unpinned:');
  console.log('setting                                  clients   batch rps   503s   batch p99 ms   health p50 ms   health p99 ms   event-loop lag p99 ms');
  const settings: { label: string; port: number; clients: number; env: Record<string, string> }[] = [
    // Every default (MAX_BATCH_SIZE 64, MAX_QUEUE_ROWS 16,384): 8 clients of maximum batches must be admitted.
    { label: 'defaults, inline', port: 9106, clients: 8, env: { ACCESS_LOG: 'false' } },
    { label: 'MAX_BATCH_SIZE=1000, inline', port: 9104, clients: 4, env: { MAX_BATCH_SIZE: '1000', ACCESS_LOG: 'false' } },
    { label: 'MAX_BATCH_SIZE=1000, worker (1 thread)', port: 9105, clients: 4, env: { INFERENCE_MODE: 'worker', INFERENCE_WORKERS: '1', MAX_BATCH_SIZE: '1000', ACCESS_LOG: 'false' } },
  ];
  for (const { label, port, clients, env } of settings) {
    const child = await startServer(`service-batches-${port}`, [serviceMain], env, port, '/health/ready', false);
    const [batches, health] = await Promise.all([
      load(`http://127.0.0.1:${port}/v1/predict/batch`, body, SECONDS, clients),
      load(`http://127.0.0.1:${port}/health/live`, undefined, SECONDS, 8),
    ]);
    const lag = await metric(port, 'nodejs_eventloop_lag_p99_seconds');
    await stop(child);
    console.log(
      `${label.padEnd(40)} ${String(clients).padStart(7)} ${batches.rps.toFixed(0).padStart(11)} ${String(batches.non2xx).padStart(6)} ${batches.p99.toFixed(1).padStart(14)} ${health.p50.toFixed(2).padStart(15)} ${health.p99.toFixed(2).padStart(15)} ${lag === undefined ? '?' : (lag * 1000).toFixed(2).padStart(21)}`,
    );
  }
}

/**
 * Bulk work through the core's chunk API (what the batch tier runs): raw instances validated, featurized
 * into one buffer per piece of BULK_RUN_ROWS and run, in this process on one onnxruntime thread. Three sizes
 * show whether the cost per row stays flat (linear time); the raw model rate at the same run size is the
 * ceiling.
 */
async function bulkChunks(): Promise<void> {
  const { inputs } = await newestModel();
  const runtime = new PredictorRuntime(flightDelayPredictor, {
    mode: 'inline',
    intraOpThreads: 1,
    batching: { maxBatchSize: 64, maxDelayMs: 0, maxQueueRows: 16_384, maxQueueBytes: 1 << 28, timeoutMs: 60_000 },
    bulkRunRows: 1024,
    logger: createLogger({ service: 'bench', level: 'warn', stream: new LogCapture() }),
  });
  await runtime.start();
  const raw1024 = await rawMicros(1024, 200);
  console.log(`
bulk chunks through predictChunk (inline, 1 onnxruntime thread, 1,024 rows per run), this process on core 1:`);
  console.log(`raw model, batch of 1,024: ${(1024 / (raw1024 / 1e6)).toFixed(0)} rows/s`);
  for (const n of [250_000, 500_000, 1_000_000]) {
    const chunk = Array.from({ length: n }, (_, i) => ({ ...inputs[i % inputs.length]! }));
    const t = process.hrtime.bigint();
    const { results } = await runtime.predictChunk(chunk);
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const ok = results.filter((r) => r.ok).length;
    console.log(`${String(n).padStart(9)} rows: ${seconds.toFixed(2)} s = ${(n / seconds).toFixed(0)} rows/s (${ok} predicted, ${n - ok} refused in place)`);
  }
  await runtime.stop();
}

async function main(): Promise<void> {
  const body = JSON.stringify({ origin: 'ORD', destination: 'LAX', scheduled_departure: '2001-06-15T17:30' });
  const serviceMain = path.join(ROOT, 'dist', 'main.js');
  console.log(`flight-delay bench: ${CONNECTIONS} connections, ${SECONDS}s × ${ROUNDS} rounds per scenario; server on core 0${hasTaskset ? '' : ' (taskset missing: NOT pinned)'}, load on core 1`);

  const rawOne = await rawMicros(1, 3000);
  const raw32 = await rawMicros(32, 1000);
  const raw64 = await rawMicros(64, 500);

  const floor = await startServer('minimal-express', ['--import', 'tsx', MINIMAL_EXPRESS], {}, 9101, '/');
  const serviceLogged = await startServer('service', [serviceMain], { LOG_LEVEL: 'info' }, 9102, '/health/ready');
  const serviceQuiet = await startServer('service-no-access-log', [serviceMain], { LOG_LEVEL: 'info', ACCESS_LOG: 'false' }, 9103, '/health/ready');

  const scenarios = [
    { name: 'minimal Express JSON endpoint (floor)', url: 'http://127.0.0.1:9101/echo', body },
    { name: 'flight-delay POST /v1/predict', url: 'http://127.0.0.1:9102/v1/predict', body },
    { name: 'flight-delay, ACCESS_LOG=false', url: 'http://127.0.0.1:9103/v1/predict', body },
  ];
  const { rounds: results, ratio: pairedRatio } = await compareToFloor(scenarios);
  const lag = await metric(9102, 'nodejs_eventloop_lag_p99_seconds');
  const runs = await metric(9102, 'model_batch_size_rows_count');
  const rowsServed = await metric(9102, 'model_batch_size_rows_sum');
  const summary = scenarios.map((s) => {
    const r = results.get(s.name)!;
    return { name: s.name, rps: median(r.map((x) => x.rps)), p99: median(r.map((x) => x.p99)) };
  });
  const floorRps = summary[0]!.rps;

  // Latency below saturation: the same 32 connections held to half the floor's throughput.
  const rate = Math.round(floorRps / 2);
  const paced = new Map<string, Load[]>(scenarios.slice(0, 2).map((s) => [s.name, []]));
  for (let round = 0; round < Math.min(ROUNDS, 3); round++) {
    for (const s of scenarios.slice(0, 2)) paced.get(s.name)!.push(await load(s.url, body, SECONDS, CONNECTIONS, rate));
  }
  await Promise.all([stop(floor), stop(serviceLogged), stop(serviceQuiet)]);
  console.log(`\nat a fixed ${rate} req/s (half the floor's rps), ${CONNECTIONS} connections:`);
  for (const [name, r] of paced) {
    console.log(`${name.padEnd(42)} ${median(r.map((x) => x.rps)).toFixed(0).padStart(10)} ${median(r.map((x) => x.p50)).toFixed(2).padStart(8)} ${median(r.map((x) => x.p99)).toFixed(2).padStart(8)}`);
  }
  console.log(`\nraw model time (onnxruntime alone, 1 thread): batch 1 = ${rawOne.toFixed(1)} µs; batch 32 = ${raw32.toFixed(1)} µs (${(raw32 / 32).toFixed(2)} µs/row); batch 64 = ${raw64.toFixed(1)} µs (${(raw64 / 64).toFixed(2)} µs/row)`);
  if (runs !== undefined && rowsServed !== undefined) {
    console.log(`dynamic batching in the service: ${rowsServed} rows in ${runs} model runs = ${(rowsServed / runs).toFixed(1)} rows/run`);
  }
  if (lag !== undefined) console.log(`event-loop lag p99 of the service after the runs: ${(lag * 1000).toFixed(2)} ms`);
  await largeBatches(serviceMain);
  await bulkChunks();
  const svc = summary[1]!;
  console.log(`\ntarget: >= 85% of the floor's rps and p99 <= 10 ms at ${CONNECTIONS} connections → ${(100 * pairedRatio(svc.name)).toFixed(1)}% (paired median), p99 ${svc.p99.toFixed(2)} ms (floor's p99 ${summary[0]!.p99.toFixed(2)} ms)`);
}
