import { flightRow, startWorkerProcess, stopWorkerProcess, testProducer, uniqueQueuePrefix, type WorkerProcess } from './test-support';

/**
 * A blocked event loop cannot renew BullMQ's job locks, and a healthy long job then looks stalled. With a
 * 2-second lock, a 1,000,000-row job must hold its lock from start to finish: this test watches the lock key
 * from outside the worker (an atomic MULTI: is the job active, does its lock exist) every 100 ms, and fails
 * on any moment the job is active without a lock, or any stall the worker reports.
 *
 * The switch `LOCK_TEST_BLOCKING=1` runs the same test with inference inline on the worker's main thread in
 * one unyielding 1,000,000-row run (INFERENCE_MODE=inline, BULK_RUN_ROWS=1000000, one input chunk): the
 * lock then lapses and the test fails, as it must.
 */
const blocking = process.env['LOCK_TEST_BLOCKING'] === '1';
const ROWS = 1_000_000;
const CHUNK = blocking ? ROWS : 20_000;
const prefix = uniqueQueuePrefix('lock');
let producer: Awaited<ReturnType<typeof testProducer>>;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  producer = await testProducer(prefix);
});

afterAll(async () => {
  await stopWorkerProcess(worker);
  await producer?.cleanup();
}, 60_000);

test(`a ${ROWS.toLocaleString('en')}-row job under a 2 s lock is never without its lock, never stalled`, async () => {
  worker = await startWorkerProcess({
    JOBS_PREFIX: prefix,
    WORKER_QUEUES: 'flight-delay',
    MODEL_POLL_INTERVAL_MS: '0',
    WORKER_LOCK_DURATION_MS: '2000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    WORKER_MAX_STALLED_COUNT: '5',
    ...(blocking ? { INFERENCE_MODE: 'inline', BULK_RUN_ROWS: String(ROWS) } : { INFERENCE_MODE: 'worker' }),
  });
  const { jobId } = await producer.producer.enqueueRows(
    (function* () {
      for (let i = 0; i < ROWS; i++) yield flightRow(i);
    })(),
    { chunkRows: CHUNK },
  );
  const lockKey = `${prefix}:flight-delay:${jobId}:lock`;
  const activeKey = `${prefix}:flight-delay:active`;
  let lost = 0;
  let watched = 0;
  let finished = false;
  const watch = (async () => {
    while (!finished) {
      const [[, lock], [, position]] = (await producer.redis.multi().exists(lockKey).lpos(activeKey, jobId).exec()) as [[null, number], [null, number | null]];
      if (position !== null) {
        watched++;
        if (lock === 0) lost++;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    const summary = await producer.producer.waitForJob(jobId, { timeoutMs: 400_000, pollMs: 500 });
    expect(summary.rows).toBe(ROWS);
  } finally {
    finished = true;
    await watch;
  }
  expect(watched).toBeGreaterThan(0);
  expect(lost).toBe(0);
  expect(worker.lines.filter((l) => l['message'] === 'stalled job moved back to wait' || l['message'] === 'job lock renewal failed')).toEqual([]);
  // One attempt, never started twice.
  expect(worker.lines.filter((l) => l['message'] === 'job started')).toHaveLength(1);
}, 600_000);
