/**
 * `pnpm bench`: a 1,000,000-row flight-delay job end to end (NDJSON submitted to the service's POST /v1/jobs,
 * streamed into Redis → batch worker(s) → every result stored), beside two figures measured in the same run:
 * the raw batched model rate (onnxruntime alone, 1,024-row runs, one thread) and the pattern users run today
 * (seed 004: one row per HTTP request to /v1/predict, 32 in flight, for BENCH_SECONDS × 2).
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379) and `pnpm build` (turbo runs it first). Uses
 * ports 7150-7159 (BENCH_PORT moves the base) and a unique queue prefix, deleted after. Not a test: nothing
 * passes or fails; the machine is shared, so read the ratios.
 */
import http from 'node:http';
import path from 'node:path';
import { flightDelayPredictor } from '@predict/flight-delay/predictor';
import { CONNECTIONS, SECONDS, load, rawModelMicros, startServer, stop } from '@predict/bench-kit';
import type { JobSummary } from '@predict/jobs';
import { ModelRepository, type RowWriter } from '@predict/serving';
import { connectTestRedis, deleteKeys, testRedisUrl } from '@predict/serving/testing';
import { flightRow } from '../src/test-support';

const ROOT = path.resolve(__dirname, '..');
const FLIGHT_DELAY = path.dirname(require.resolve('@predict/flight-delay/package.json'));
const ROWS = Number(process.env['BENCH_JOB_ROWS'] ?? 1_000_000);
const SERVICE_PORT = Number(process.env['BENCH_PORT'] ?? 7150);
const prefix = `{bench-${process.pid}}`;
const redisUrl = testRedisUrl();

/** Raw model rate: session.run alone on real featurized rows (the predictor's own featurize), one thread. */
async function rawRowsPerSecond(): Promise<number> {
  const repository = new ModelRepository(flightDelayPredictor.defaultModelDir);
  const { dir, card } = await repository.open(await repository.newest());
  const tables = await flightDelayPredictor.loadArtifacts(dir, card);
  const inputs = Array.from({ length: 1100 }, (_, i) => flightRow(i))
    .filter((r) => r['origin'] !== 'XXX')
    .map((r) => flightDelayPredictor.input.parse(r));
  const write = (i: number, out: Float32Array, offset: number) => {
    const row = { float32: () => out.subarray(offset, offset + 17) } as unknown as RowWriter;
    flightDelayPredictor.featurize(inputs[i % inputs.length]!, tables, row);
  };
  const micros = await rawModelMicros(path.join(dir, 'model.onnx'), { name: 'features', width: 17 }, write, 1024, 200);
  return 1024 / (micros / 1e6);
}

/** POSTs `rows` flights as NDJSON to /v1/jobs (streamed) and answers the job id. */
function submit(rows: number, offset: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: SERVICE_PORT, path: '/v1/jobs', method: 'POST', headers: { 'content-type': 'application/x-ndjson' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => (res.statusCode === 202 ? resolve((JSON.parse(text) as { job_id: string }).job_id) : reject(new Error(`${res.statusCode} ${text}`))));
      },
    );
    req.on('error', reject);
    let i = 0;
    const pump = () => {
      while (i < rows) {
        const lines: string[] = [];
        for (let k = 0; k < 5000 && i < rows; k++, i++) lines.push(JSON.stringify(flightRow(offset + i)));
        if (!req.write(`${lines.join('\n')}\n`)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

async function waitDone(id: string): Promise<JobSummary> {
  const deadline = Date.now() + 900_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`job ${id} not done after 15 minutes`);
    const status = await fetch(`http://127.0.0.1:${SERVICE_PORT}/v1/jobs/${id}`).then((r) => r.json() as Promise<{ state: string; summary: JobSummary | null; error: unknown }>);
    if (status.state === 'completed' && status.summary) return status.summary;
    if (status.state === 'failed') throw new Error(`job failed: ${JSON.stringify(status.error)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Submit → every result stored, for `jobs` jobs splitting ROWS, with `processes` workers of `threads` inference threads each. */
async function endToEnd(label: string, processes: number, threads: number, jobs: number): Promise<number> {
  const workers: Awaited<ReturnType<typeof startServer>>[] = [];
  try {
    for (let p = 0; p < processes; p++) {
      workers.push(
        await startServer({
          name: `batch-worker-${label.replace(/\W+/g, '-')}-${p}`,
          args: [path.join(ROOT, 'dist', 'main.js')],
          env: { REDIS_URL: redisUrl, JOBS_PREFIX: prefix, WORKER_QUEUES: 'flight-delay', INFERENCE_MODE: 'worker', INFERENCE_WORKERS: String(threads), MODEL_POLL_INTERVAL_MS: '0', ACCESS_LOG: 'false', LOG_LEVEL: 'warn' },
          port: SERVICE_PORT + 1 + p,
          ready: '/health/ready',
          pinned: false,
          cwd: ROOT,
        }),
      );
    }
    const per = Math.ceil(ROWS / jobs);
    const t = process.hrtime.bigint();
    const ids = await Promise.all(Array.from({ length: jobs }, (_, j) => submit(Math.min(per, ROWS - j * per), j * per)));
    const uploaded = Number(process.hrtime.bigint() - t) / 1e9;
    const summaries = await Promise.all(ids.map(waitDone));
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const rows = summaries.reduce((a, s) => a + s.rows, 0);
    const ok = summaries.reduce((a, s) => a + s.ok, 0);
    console.log(
      `${label.padEnd(44)} ${seconds.toFixed(1).padStart(7)} s ${(rows / seconds).toFixed(0).padStart(9)} rows/s   (upload ${uploaded.toFixed(1)} s; ${rows} rows, ${ok} ok, ${rows - ok} row errors)`,
    );
    return rows / seconds;
  } finally {
    // Stopped whatever happened: no worker outlives the bench.
    for (const w of workers) await stop(w);
  }
}

async function main(): Promise<void> {
  const redis = await connectTestRedis();
  const raw = await rawRowsPerSecond();
  console.log(`batch-worker bench: ${ROWS.toLocaleString('en')}-row flight-delay jobs; machine shared and unpinned — noisy figures\n`);
  console.log(`raw batched model rate (onnxruntime alone, 1,024-row runs, 1 thread): ${raw.toFixed(0)} rows/s (2 threads: at most ${(2 * raw).toFixed(0)})\n`);
  const service = await startServer({
    name: 'flight-delay-jobs',
    args: [path.join(FLIGHT_DELAY, 'dist', 'main.js')],
    env: { REDIS_URL: redisUrl, JOBS_PREFIX: prefix, MODEL_POLL_INTERVAL_MS: '0', ACCESS_LOG: 'false', LOG_LEVEL: 'warn' },
    port: SERVICE_PORT,
    ready: '/health/ready',
    pinned: false,
    cwd: ROOT,
  });
  try {
    console.log('end to end (submit NDJSON → all results stored)      time       rate');
    const one = await endToEnd('1 worker process × 1 inference thread, 1 job', 1, 1, 1);
    const two = await endToEnd('2 worker processes × 1 thread, 2 jobs of ½', 2, 1, 2);
    const twoThreads = await endToEnd('1 worker process × 2 threads, 1 job', 1, 2, 1);
    const single = await load(`http://127.0.0.1:${SERVICE_PORT}/v1/predict`, JSON.stringify(flightRow(1)), SECONDS * 2, CONNECTIONS);
    console.log(`\none row per HTTP request (seed 004 pattern), ${CONNECTIONS} in flight, ${SECONDS * 2} s: ${single.rps.toFixed(0)} rows/s (p99 ${single.p99.toFixed(1)} ms)`);
    console.log(`\nend to end vs raw (same thread count): 1 thread ${((100 * one) / raw).toFixed(0)} %, 2 processes ${((100 * two) / (2 * raw)).toFixed(0)} %, 2 threads ${((100 * twoThreads) / (2 * raw)).toFixed(0)} %`);
    console.log(`end to end vs one row per request: ${(one / single.rps).toFixed(1)}× (1 thread), ${(Math.max(two, twoThreads) / single.rps).toFixed(1)}× (2)`);
  } finally {
    await stop(service);
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
