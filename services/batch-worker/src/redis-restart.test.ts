import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobProducer, type JobProgress } from '@predict/jobs';
import { eventually, TestRedisServer } from '@predict/serving/testing';
import { Redis } from 'ioredis';
import { flightRow, startWorkerProcess, stopWorkerProcess, type WorkerProcess } from './test-support';

/**
 * Redis restarted mid-job (a private redis-server with an append-only file, killed and started again on the
 * same port and data): the worker's connections wait through the outage and the job completes, every row
 * exactly once.
 */
const ROWS = 60_000;
const CHUNK = 2000;
const prefix = '{restart}';
const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-restart-'));
let server: TestRedisServer;
let worker: WorkerProcess | undefined;
let client: Redis;
let producer: JobProducer;

beforeAll(async () => {
  server = await TestRedisServer.start(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]);
  // The producer waits through the restart too (a test convenience; real producers fail fast).
  client = new Redis(server.url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  producer = new JobProducer('flight-delay', { connection: client, prefix });
}, 30_000);

afterAll(async () => {
  await stopWorkerProcess(worker);
  await producer?.close().catch(() => undefined);
  client?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

test('Redis restarted mid-job: the job completes, every row exactly once', async () => {
  worker = await startWorkerProcess({
    REDIS_URL: server.url,
    JOBS_PREFIX: prefix,
    WORKER_QUEUES: 'flight-delay',
    INFERENCE_MODE: 'worker',
    INFERENCE_WORKERS: '1',
    MODEL_POLL_INTERVAL_MS: '0',
    BULK_RUN_ROWS: '256',
    WORKER_LOCK_DURATION_MS: '10000',
    WORKER_STALLED_INTERVAL_MS: '2000',
  });
  const { jobId } = await producer.enqueueRows(
    (function* () {
      for (let i = 0; i < ROWS; i++) yield flightRow(i);
    })(),
    { chunkRows: CHUNK },
  );
  await eventually(async () => (((await producer.getJob(jobId))?.progress as JobProgress | undefined)?.chunks_done ?? 0) >= 2, 'two chunks done', 120_000);
  await server.stop('SIGKILL');
  await server.start();
  await worker.waitForLog((l) => l['message'] === 'redis available again', 'the worker to reconnect', 60_000);
  const summary = await producer.waitForJob(jobId, { timeoutMs: 240_000 });
  expect(summary.rows).toBe(ROWS);
  let next = 0;
  for await (const line of producer.readResults(jobId)) expect(line.index).toBe(next++);
  expect(next).toBe(ROWS);
}, 420_000);
