import { resultPartsKey, type JobProgress } from '@predict/jobs';
import { eventually } from '@predict/serving/testing';
import { flightRow, startWorkerProcess, stopWorkerProcess, testProducer, uniqueQueuePrefix, type WorkerProcess } from './test-support';

/**
 * Worker processes on a shared queue: a worker SIGKILLed mid-job is taken over by another, which resumes at
 * the next unfinished chunk, and every row is answered exactly once; SIGTERM hands the job back after its
 * current chunk and exits 0. Bounds are deadlines for a loaded machine, not timings.
 */

const prefix = uniqueQueuePrefix('proc');
const ROWS = 120_000;
const CHUNK = 4000;
const env = {
  JOBS_PREFIX: prefix,
  WORKER_QUEUES: 'flight-delay',
  INFERENCE_MODE: 'worker',
  INFERENCE_WORKERS: '1',
  MODEL_POLL_INTERVAL_MS: '0',
  WORKER_LOCK_DURATION_MS: '4000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  // Small pieces keep each chunk short, so a kill lands mid-job.
  BULK_RUN_ROWS: '512',
};
let producer: Awaited<ReturnType<typeof testProducer>>;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  producer = await testProducer(prefix);
});

afterAll(async () => {
  for (const w of workers) await stopWorkerProcess(w);
  await producer?.cleanup();
}, 60_000);

async function start(): Promise<WorkerProcess> {
  const w = await startWorkerProcess(env);
  workers.push(w);
  return w;
}

const rows = () => (function* () {
  for (let i = 0; i < ROWS; i++) yield flightRow(i);
})();

async function chunksDone(jobId: string): Promise<number> {
  const job = await producer.producer.getJob(jobId);
  return (job?.progress as JobProgress | undefined)?.chunks_done ?? 0;
}

/** Every index 0..ROWS-1 exactly once, in order; returns how many rows errored. */
async function expectEveryRowOnce(jobId: string): Promise<number> {
  let next = 0;
  let errors = 0;
  for await (const line of producer.producer.readResults(jobId)) {
    expect(line.index).toBe(next++);
    if ('error' in line) errors++;
  }
  expect(next).toBe(ROWS);
  return errors;
}

test('SIGKILL a worker mid-job: another finishes it from the last completed chunk, every row exactly once', async () => {
  const a = await start();
  const b = await start();
  const { jobId } = await producer.producer.enqueueRows(rows(), { chunkRows: CHUNK });
  // Whichever took it: kill that one once a few chunks are done.
  await eventually(async () => (await chunksDone(jobId)) >= 3, 'three chunks done', 120_000);
  const holder = [a, b].find((w) => w.lines.some((l) => l['message'] === 'job started' && l['job_id'] === jobId));
  if (!holder) throw new Error('neither worker logged that it started the job');
  const other = holder === a ? b : a;
  holder.child.kill('SIGKILL');
  await holder.exited;
  const doneAtKill = await producer.redis.hlen(resultPartsKey(prefix, 'flight-delay', jobId));
  expect(doneAtKill).toBeLessThan(ROWS / CHUNK);

  const summary = await producer.producer.waitForJob(jobId, { timeoutMs: 240_000 });
  const resumed = await other.waitForLog((l) => l['message'] === 'resuming job' && l['job_id'] === jobId, 'the other worker to resume the job', 10_000);
  expect(resumed['chunks_done']).toBeGreaterThanOrEqual(doneAtKill);
  expect(summary).toMatchObject({ rows: ROWS, chunks: ROWS / CHUNK });
  const errors = await expectEveryRowOnce(jobId);
  expect(summary.failed).toBe(errors);
  expect(summary.ok + summary.failed).toBe(ROWS);
}, 420_000);

test('SIGTERM: the worker finishes its current chunk, hands the job back and exits 0; another completes it', async () => {
  const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  const { jobId } = await producer.producer.enqueueRows(rows(), { chunkRows: CHUNK });
  await eventually(async () => (await chunksDone(jobId)) >= 2, 'two chunks done', 120_000);
  for (const w of live) w.child.kill('SIGTERM');
  const exits = await Promise.all(live.map((w) => w.exited));
  expect(exits.map((e) => e.code)).toEqual(live.map(() => 0));
  const job = await producer.producer.getJob(jobId);
  expect(['waiting', 'prioritized']).toContain(await job?.getState());
  const parts = await producer.redis.hlen(resultPartsKey(prefix, 'flight-delay', jobId));
  expect(parts).toBeGreaterThanOrEqual(2);
  expect(parts).toBeLessThan(ROWS / CHUNK);

  const c = await start();
  const summary = await producer.producer.waitForJob(jobId, { timeoutMs: 240_000 });
  await c.waitForLog((l) => l['message'] === 'resuming job' && l['job_id'] === jobId, 'the new worker to resume the job', 10_000);
  expect(summary.rows).toBe(ROWS);
  await expectEveryRowOnce(jobId);
}, 420_000);

test('a TypeScript producer using only @predict/jobs (and bullmq) enqueues and reads results', async () => {
  const instances = [flightRow(0), flightRow(5), { origin: 'ORD', destination: 'ORD', scheduled_departure: '2001-06-01T10:00' }];
  const { jobId } = await producer.producer.enqueueInstances(instances, { priority: 'high' });
  const summary = await producer.producer.waitForJob(jobId, { timeoutMs: 120_000 });
  expect(summary).toMatchObject({ rows: 3, ok: 1, failed: 2 });
  const results = [];
  for await (const r of producer.producer.readResults(jobId)) results.push(r);
  expect(results[0]).toMatchObject({ index: 0, output: { probability_delayed: expect.any(Number) } });
  expect(results.slice(1).map((r) => ('error' in r ? r.error.code : 'ok'))).toEqual(['unknown_airport', 'same_airport']);
}, 180_000);
