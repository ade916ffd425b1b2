import { flightDelayPredictor } from '@predict/flight-delay/predictor';
import { QUEUES } from '@predict/jobs';
import { createLogger, createServingMetrics, Registry } from '@predict/serving';
import { eventually, testRedisUrl } from '@predict/serving/testing';
import { Queue } from 'bullmq';
import { loadConfig } from './config';
import { flightRow, testProducer, uniqueQueuePrefix } from './test-support';
import { WorkerTier } from './worker-tier';

/**
 * WORKER_RATE_LIMIT_JOBS / WORKER_RATE_LIMIT_MS: BullMQ's per-queue limiter really holds jobs back. Counts and
 * states only, no timings: with at most 1 job per 10 minutes and room for 2 at once, the second job is still
 * waiting once the first has finished (without the limiter both start together), BullMQ's limiter key is set,
 * and removing that key lets the second run: it was the limiter, nothing else, that held it.
 */
jest.setTimeout(180_000);

const WINDOW_MS = 600_000;
const prefix = uniqueQueuePrefix('rate');
let producer: Awaited<ReturnType<typeof testProducer>>;
let tier: WorkerTier | undefined;
let queue: Queue | undefined;

beforeAll(async () => {
  producer = await testProducer(prefix, QUEUES.flightDelay);
});

afterAll(async () => {
  await tier?.stop(10_000);
  await queue?.close();
  await producer?.cleanup();
}, 60_000);

test('with at most 1 job per window, the second job waits while the first completes, until the limiter lets it go', async () => {
  // Both wait before any worker runs: an unlimited Worker with concurrency 2 would take them at once.
  const first = await producer.producer.enqueueInstances([flightRow(1), flightRow(2)], { jobId: 'rate-a' });
  const second = await producer.producer.enqueueInstances([flightRow(3), flightRow(4)], { jobId: 'rate-b' });
  const config = loadConfig({
    REDIS_URL: testRedisUrl(),
    JOBS_PREFIX: prefix,
    INFERENCE_MODE: 'worker',
    INFERENCE_WORKERS: '1',
    MODEL_POLL_INTERVAL_MS: '0',
    WORKER_CONCURRENCY: '2',
    WORKER_RATE_LIMIT_JOBS: '1',
    WORKER_RATE_LIMIT_MS: String(WINDOW_MS),
    LOG_LEVEL: 'warn',
  });
  tier = new WorkerTier({
    config,
    services: [{ queue: QUEUES.flightDelay, predictor: flightDelayPredictor }],
    logger: createLogger({ service: 'batch-worker-test', level: 'error' }),
    metrics: createServingMetrics(new Registry(), { defaultMetrics: false }),
  });
  await tier.start();

  const states = async () => Promise.all([first, second].map(async ({ jobId }) => (await producer.producer.status(jobId))?.state));
  let done: (string | undefined)[] = [];
  await eventually(
    async () => {
      done = await states();
      return done.includes('completed');
    },
    'one job to complete',
    120_000,
  );
  // Exactly one ran; the other never started (which one is BullMQ's order, not ours to fix).
  const held = done[0] === 'completed' ? second.jobId : first.jobId;
  expect(done.filter((s) => s === 'completed')).toHaveLength(1);
  // `prioritized` is BullMQ's waiting state for a job with a priority (every job here has one: normal = 5).
  expect(await producer.producer.status(held)).toMatchObject({ state: 'prioritized', started_at: null, attempts_made: 0 });
  queue = new Queue(QUEUES.flightDelay, { connection: producer.redis, prefix });
  const ttl = await queue.getRateLimitTtl(1);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(WINDOW_MS);
  expect(await queue.getJobCounts('waiting', 'prioritized', 'active', 'completed')).toEqual({ waiting: 0, prioritized: 1, active: 0, completed: 1 });

  // Lift the limit by hand: the held job now runs (BullMQ's worker looks again within its 30 s maximum limiter delay).
  await queue.removeRateLimitKey();
  await producer.producer.waitForJob(held, { timeoutMs: 120_000 });
});
