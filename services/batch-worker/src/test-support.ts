import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { JobProducer } from '@predict/jobs';
import { connectTestRedis, deleteKeys, testRedisUrl } from '@predict/serving/testing';
import type { Redis } from 'ioredis';

/**
 * Test support: batch-worker processes (spawned from the TypeScript sources, as `pnpm dev` runs them), a
 * unique queue prefix per test with its keys deleted after, and flight rows. Nothing here ships.
 */

/** A hash-tagged prefix no other test uses. */
export const uniqueQueuePrefix = (tag: string) => `{test-${tag}-${Math.random().toString(36).slice(2, 10)}}`;

export interface WorkerProcess {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  /** Resolves with the exit code (or signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once a log line satisfies `match` (bounded). */
  waitForLog(match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Starts `src/main.ts` in its own process with `env` (PORT 0, LOG_LEVEL info); resolves once it logs `ready`. */
export async function startWorkerProcess(env: Record<string, string>, timeoutMs = 90_000): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', path.join(__dirname, 'main.ts')], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, REDIS_URL: testRedisUrl(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ACCESS_LOG: 'false', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let rest = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        lines.push({ message: p });
      }
    }
    for (const w of waiters) w();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters) w();
  });
  const waitForLog: WorkerProcess['waitForLog'] = (match, what, ms = 60_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = lines.find(match);
        if (found) finish(() => resolve(found));
        else if (done) finish(() => reject(new Error(`worker exited before ${what}; stderr:\n${stderr.slice(-2000)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; stderr:\n${stderr.slice(-2000)}`))), ms);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });
  const worker = { child, lines, exited, waitForLog };
  try {
    await waitForLog((l) => l['message'] === 'ready', 'the worker to be ready', timeoutMs);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return worker;
}

/** Kills a worker process if it still runs and waits for its exit. */
export async function stopWorkerProcess(worker: WorkerProcess | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill(signal);
  await worker.exited;
}

/** A producer on the shared test Redis under `prefix`, and the cleanup that deletes every key of the prefix. */
export async function testProducer(prefix: string, queue = 'flight-delay'): Promise<{ redis: Redis; producer: JobProducer; cleanup(): Promise<void> }> {
  const redis = await connectTestRedis();
  const producer = new JobProducer(queue, { connection: redis, prefix });
  return {
    redis,
    producer,
    async cleanup() {
      await producer.close().catch(() => undefined);
      await deleteKeys(redis, prefix);
      redis.disconnect();
    },
  };
}

const AIRPORTS = ['ORD', 'LAX', 'JFK', 'ATL', 'DFW', 'DEN', 'SFO', 'SEA', 'BOS', 'MIA'];

/** Flight `i` of a deterministic set: every 997th names an unknown airport (a row error), the rest are valid. */
export function flightRow(i: number): Record<string, unknown> {
  const origin = i % 997 === 5 ? 'XXX' : (AIRPORTS[i % AIRPORTS.length] as string);
  const destination = AIRPORTS[(i * 7 + 3) % AIRPORTS.length] === origin ? 'PHX' : (AIRPORTS[(i * 7 + 3) % AIRPORTS.length] as string);
  const day = 1 + (i % 28);
  const hour = 5 + (i % 18);
  return { origin, destination, scheduled_departure: `2001-06-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:${i % 2 ? '30' : '05'}` };
}
