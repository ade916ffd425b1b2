import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { createLogger } from '../logging/logger';
import { eventually } from '../testing/eventually';
import { LINEAR_MODEL_DIR, linearPredictor } from '../testing/linear-predictor';
import { loadServingConfig } from '../config/serving-config';
import { runtimeOptions } from '../service/runtime-options';
import { LogCapture, startTestService } from '../testing/test-service';
import { PredictorRuntime } from './predictor-runtime';
import type { Feeds, SessionRunner } from './session-runner';
import { WorkerPool, type WorkerPoolOptions } from './worker-pool';

/** session-worker.js with faults injected into onnxruntime (see the file). */
const FAULTY_WORKER = path.join(__dirname, 'faulty-session-worker.js');
const SETTINGS = { intraOpNumThreads: 1, interOpNumThreads: 1, allowSpinning: false };
const graph = (version: string) => readFileSync(path.join(LINEAR_MODEL_DIR, version, 'model.onnx'));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const y1 = (a: number, b: number, c: number) => a + 2 * b + 3 * c + 0.5;
const y2 = (a: number, b: number, c: number) => -a + 0.5 * b + 0.25 * c - 0.5;

const feeds = (a: number, b: number, c: number): Feeds => ({ x: { type: 'float32', data: Float32Array.from([a, b, c]), dims: [1, 3] } });
const runY = async (runner: SessionRunner, a: number, b: number, c: number) => Number((await runner.run(feeds(a, b, c)))['y']?.data[0]);

interface Faults {
  refuseLoads?: { slot: number; sha256: string };
  hangRuns?: { slot: number; spawn: number };
  crashAtStart?: { slot: number; spawnsBelow: number };
  crashOn?: { slot: number; spawn: number; type: 'load' | 'run'; after?: number };
}

describe('WorkerPool', () => {
  const pools: WorkerPool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  function newPool(options: Partial<WorkerPoolOptions> & { faults?: Faults } = {}) {
    const logs = new LogCapture();
    const { faults, ...rest } = options;
    const pool = new WorkerPool({
      size: 2,
      logger: createLogger({ service: 'test', level: 'info', stream: logs }),
      workerFile: FAULTY_WORKER,
      workerData: { faults: faults ?? {} },
      ...rest,
    });
    pools.push(pool);
    return { pool, logs };
  }

  const inRotation = (pool: WorkerPool, spawns?: number[]) =>
    eventually(
      () => pool.status().every((s) => s.state === 'ready' && (spawns === undefined || s.spawns === spawns[s.slot])),
      `every thread in rotation${spawns ? ` after spawns ${spawns.join(',')}` : ''}`,
    );

  it('mints its own key per load: two loads of one graph are separate sessions, released separately', async () => {
    const { pool } = newPool();
    const first = await pool.load('linear', graph('1'), SETTINGS);
    const second = await pool.load('linear', graph('1'), SETTINGS);
    await first.release();
    await expect(Promise.all([1, 2, 3, 4].map((a) => runY(second, a, 1, 1)))).resolves.toEqual([1, 2, 3, 4].map((a) => expect.closeTo(y1(a, 1, 1), 5)));
    expect((await pool.sessionKeys()).map((keys) => keys.length)).toEqual([1, 1]);
  });

  it('puts a replacement thread in rotation only once its graphs are loaded; runs wait for it meanwhile', async () => {
    const { pool } = newPool({ size: 1 });
    const runner = await pool.load('linear', graph('1'), SETTINGS);
    await pool.worker(0)?.terminate();
    // No thread is in rotation now: these wait for the replacement instead of failing.
    const ys = await Promise.all([0, 1, 2, 3, 4, 5].map((a) => runY(runner, a, 0, 1)));
    expect(ys).toEqual([0, 1, 2, 3, 4, 5].map((a) => expect.closeTo(y1(a, 0, 1), 5)));
    expect(pool.status()[0]).toMatchObject({ state: 'ready', spawns: 2 });
  });

  it('loads a graph on a thread that replaces one during the load', async () => {
    // The first thread of slot 0 dies on its second load.
    const { pool } = newPool({ faults: { crashOn: { slot: 0, spawn: 1, type: 'load', after: 1 } } });
    await pool.load('linear', graph('1'), SETTINGS);
    const second = await pool.load('linear', graph('2'), SETTINGS);
    await inRotation(pool, [2, 1]);
    expect((await pool.sessionKeys()).map((keys) => keys.length)).toEqual([2, 2]);
    const ys = await Promise.all(Array.from({ length: 8 }, (_, a) => runY(second, a, 1, 1)));
    expect(ys).toEqual(Array.from({ length: 8 }, (_, a) => expect.closeTo(y2(a, 1, 1), 5)));
  });

  it('releases a graph on the threads where it loaded when it fails on another', async () => {
    const { pool } = newPool({ faults: { refuseLoads: { slot: 1, sha256: sha256(graph('2')) } } });
    const first = await pool.load('first', graph('1'), SETTINGS);
    await expect(pool.load('second', graph('2'), SETTINGS)).rejects.toThrow(/injected load failure on slot 1/);
    // One more load on every thread: each thread handles loads in order, so the failed one has settled.
    const third = await pool.load('third', graph('1'), SETTINGS);
    expect((await pool.sessionKeys()).map((keys) => keys.length)).toEqual([2, 2]);
    await expect(runY(first, 1, 1, 1)).resolves.toBeCloseTo(y1(1, 1, 1), 5);
    await expect(runY(third, 1, 1, 1)).resolves.toBeCloseTo(y1(1, 1, 1), 5);
  });

  it('fails a run that does not answer within the run timeout and replaces its thread', async () => {
    const { pool } = newPool({ size: 1, runTimeoutMs: 300, faults: { hangRuns: { slot: 0, spawn: 1 } } });
    const runner = await pool.load('linear', graph('1'), SETTINGS);
    await expect(runner.run(feeds(1, 1, 1))).rejects.toThrow(/did not answer within 300 ms/);
    // The thread's session state is unknown: it is replaced, and the replacement answers. Its start-up may
    // take longer than the 300 ms run timeout on a loaded machine: wait for its handshake, then run.
    await eventually(() => pool.status()[0]?.state === 'ready' && pool.status()[0]?.spawns === 2, 'the replacement thread in rotation');
    await expect(runY(runner, 1, 1, 1)).resolves.toBeCloseTo(y1(1, 1, 1), 5);
    expect(pool.status()[0]).toMatchObject({ state: 'ready', spawns: 2 });
    await runner.release();
  }, 10_000);

  it('runs again on another thread a run whose thread died under it', async () => {
    const { pool, logs } = newPool({ faults: { crashOn: { slot: 0, spawn: 1, type: 'run' } } });
    const runner = await pool.load('linear', graph('1'), SETTINGS);
    await inRotation(pool);
    // Both threads are idle: the run goes to slot 0, whose thread dies on it.
    await expect(runY(runner, 2, 1, 1)).resolves.toBeCloseTo(y1(2, 1, 1), 5);
    expect(logs.lines.filter((l) => l['message'] === 'inference thread exited; replacing it').map((l) => l['worker'])).toEqual([0]);
    await inRotation(pool, [2, 1]);
  });

  it('stops a thread it took out of rotation only once onnxruntime answered the work it owes', async () => {
    // The run times out at 1 ms, long before onnxruntime answers it: the thread leaves rotation at once but is
    // terminated only after that answer (terminating it during a native call would abort the process).
    const { pool, logs } = newPool({ size: 1, runTimeoutMs: 1 });
    const runner = await pool.load('linear', graph('1'), SETTINGS);
    const big: Feeds = { x: { type: 'float32', data: new Float32Array(3 * 200_000).fill(1), dims: [200_000, 3] } };
    await expect(runner.run(big)).rejects.toThrow(/did not answer within 1 ms/);
    expect(pool.status()[0]?.state).toBe('down');
    await eventually(() => logs.lines.some((l) => l['message'] === 'retired inference thread stopped'), 'the retired thread stopped');
    const retired = logs.lines.find((l) => l['message'] === 'inference thread taken out of rotation; replacing it');
    expect(retired?.['owed_native_calls']).toBe(1);
  });

  it('replaces a crashing thread after exponentially longer pauses, back to the first once it ran healthily', async () => {
    const { pool, logs } = newPool({
      size: 1,
      respawnDelayMs: 1,
      maxRespawnDelayMs: 4,
      healthyAfterMs: 20,
      faults: { crashAtStart: { slot: 0, spawnsBelow: 5 } },
    });
    await inRotation(pool, [5]);
    await eventually(() => pool.status()[0]?.failures === 0, 'the failure count reset after a healthy period');
    await pool.worker(0)?.terminate();
    await inRotation(pool, [6]);
    const pauses = logs.lines.filter((l) => l['message'] === 'inference thread exited; replacing it').map((l) => l['respawn_in_ms']);
    expect(pauses).toEqual([1, 2, 4, 4, 1]);
  });
});

describe('WorkerPool and the process', () => {
  it('holds the process open while a thread owes an answer, and not once the pool is idle', async () => {
    // A script with nothing else to keep Node running: it must get through load, run and release, then exit
    // by itself (no close()) because idle threads hold nothing open.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pool-process-'));
    const script = path.join(dir, 'script.ts');
    await writeFile(
      script,
      `import { readFileSync } from 'node:fs';
       import { createLogger } from ${JSON.stringify(path.resolve(__dirname, '../logging/logger'))};
       import { WorkerPool } from ${JSON.stringify(path.resolve(__dirname, 'worker-pool'))};
       (async () => {
         const pool = new WorkerPool({ size: 1, logger: createLogger({ service: 'test', level: 'error' }) });
         const runner = await pool.load('linear', readFileSync(${JSON.stringify(path.join(LINEAR_MODEL_DIR, '1', 'model.onnx'))}), ${JSON.stringify(SETTINGS)});
         console.log('loaded');
         const out = await runner.run({ x: { type: 'float32', data: Float32Array.from([1, 1, 1]), dims: [1, 3] } });
         console.log('ran', out.y.data[0]);
         await runner.release();
         console.log('released');
       })();`,
    );
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(__dirname, '../..'), timeout: 20_000 });
      expect(stdout.split('\n').filter(Boolean)).toEqual(['loaded', `ran ${y1(1, 1, 1)}`, 'released']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('worker mode through the runtime', () => {
  const input = (i: number) => ({ a: i % 7, b: (i % 5) - 2, c: i % 3 });

  it('keeps answering after a reload of the version that is serving', async () => {
    const svc = await startTestService({ predictor: linearPredictor, env: { INFERENCE_MODE: 'worker', INFERENCE_WORKERS: '2' } });
    try {
      const res = await request(svc.app).post('/admin/model/reload').send({}).expect(200);
      expect(res.body).toEqual({ previous: { name: 'linear', version: '2' }, current: { name: 'linear', version: '2' } });
      for (let i = 0; i < 10; i++) {
        const answer = await request(svc.app).post('/v1/predict').send(input(i));
        expect(answer.status).toBe(200);
        expect(answer.body.y).toBeCloseTo(y2(input(i).a, input(i).b, input(i).c), 4);
      }
    } finally {
      await svc.stop();
    }
  });

  it('answers every prediction started before a same-version reload and a stop, then closes its threads', async () => {
    const svc = await startTestService({ predictor: linearPredictor, env: { INFERENCE_MODE: 'worker', INFERENCE_WORKERS: '2' } });
    const pool = svc.runtime.workerPool as WorkerPool;
    const before = Array.from({ length: 40 }, (_, i) => svc.runtime.predict(input(i)));
    await svc.runtime.reload();
    const after = Array.from({ length: 40 }, (_, i) => svc.runtime.predict(input(i)));
    await svc.stop();
    const answers = await Promise.all([...before, ...after]);
    answers.forEach((r, k) => expect(r.output.y).toBeCloseTo(y2(input(k % 40).a, input(k % 40).b, input(k % 40).c), 4));
    expect(svc.runtime.workerPool).toBeUndefined();
    expect(pool.worker(0)?.threadId).toBe(-1); // terminated
  });

  it('loses no request when a thread dies under load', async () => {
    // Wired from the serving variables as a service is, with the thread script that injects the crash: the
    // first thread of slot 0 dies on its 40th run, with runs queued behind it.
    const config = loadServingConfig({ INFERENCE_MODE: 'worker', INFERENCE_WORKERS: '2', MAX_BATCH_DELAY_MS: '1', MAX_BATCH_SIZE: '4' });
    const logs = new LogCapture();
    const runtime = new PredictorRuntime(linearPredictor, {
      ...runtimeOptions(config, createLogger({ service: 'test', level: 'info', stream: logs }), undefined),
      workerPool: { workerFile: FAULTY_WORKER, workerData: { faults: { crashOn: { slot: 0, spawn: 1, type: 'run', after: 39 } } } },
    });
    await runtime.start();
    const pool = runtime.workerPool as WorkerPool;
    try {
      const total = 600;
      let next = 0;
      let answered = 0;
      const client = async () => {
        while (next < total) {
          const i = next++;
          const { output } = await runtime.predict(input(i));
          expect(output.y).toBeCloseTo(y2(input(i).a, input(i).b, input(i).c), 4);
          answered++;
        }
      };
      await Promise.all(Array.from({ length: 16 }, client));
      expect(answered).toBe(total);
      expect(logs.lines.filter((l) => l['message'] === 'inference thread exited; replacing it').map((l) => l['worker'])).toEqual([0]);
      await eventually(() => pool.status()[0]?.spawns === 2 && pool.status()[0]?.state === 'ready', 'the replacement thread in rotation');
    } finally {
      await runtime.stop();
    }
  });
});
