import { setImmediate as tick } from 'node:timers/promises';
import { ServiceUnavailableError } from '../errors/service-unavailable-error';
import { DynamicBatcher, type BatcherOptions } from './dynamic-batcher';
import { InputLayout } from './row-writer';
import type { RunOutputs } from './session-runner';
import type { TensorData } from './tensor';

/** Two inputs (float32 [2] and int64 [1]) so concatenation per input is exercised. */
const layout = new InputLayout([
  { name: 'x', type: 'float32', shape: [-1, 2] },
  { name: 'k', type: 'int64', shape: [-1, 1] },
]);

/** A promise opened from outside: the "model" finishes a run only when the test says so. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** The "model": y = x0 * 2 + k, one value per row; records every run's size. */
function doubling(overrides: Partial<BatcherOptions> = {}) {
  const runs: number[] = [];
  const batcher = new DynamicBatcher({
    maxBatchSize: 8,
    maxDelayMs: 0,
    maxQueueRows: 100,
    timeoutMs: 10_000,
    concurrency: 1,
    layout,
    outputNames: ['y'],
    run: async (buffers, n): Promise<RunOutputs> => {
      runs.push(n);
      const [x, k] = buffers as [Float32Array, BigInt64Array];
      const y = new Float32Array(n);
      for (let i = 0; i < n; i++) y[i] = (x[i * 2] as number) * 2 + Number(k[i]);
      await tick();
      return { y: { data: y, dims: [n, 1] } };
    },
    ...overrides,
  });
  return { batcher, runs };
}

/** `values.length` rows: x = [v, 0], k = 1. */
function rows(values: number[]): TensorData[] {
  const x = new Float32Array(values.length * 2);
  values.forEach((v, i) => (x[i * 2] = v));
  return [x, new BigInt64Array(values.length).fill(1n)];
}

/** Submits rows online (admitted first) and reads back y per row. */
async function predict(batcher: DynamicBatcher, values: number[]): Promise<number[]> {
  const result = await batcher.submit(rows(values), values.length, batcher.admit(values.length));
  return values.map((_, i) => Number(result.row(i)['y']?.[0]));
}

describe('DynamicBatcher', () => {
  it('coalesces concurrent requests into fewer runs, concatenating per input, and answers each its own rows', async () => {
    const { batcher, runs } = doubling();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => predict(batcher, [i])));
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => [i * 2 + 1]));
    expect(runs.length).toBeLessThan(20);
    expect(Math.max(...runs)).toBeLessThanOrEqual(8);
    expect(runs.reduce((a, b) => a + b, 0)).toBe(20);
  });

  it('splits a request larger than the room left in a run across runs and reassembles it in order', async () => {
    const { batcher, runs } = doubling({ maxBatchSize: 4 });
    const [small, large] = await Promise.all([predict(batcher, [100]), predict(batcher, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])]);
    expect(small).toEqual([201]);
    expect(large).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    expect(runs).toEqual([4, 4, 3]);
  });

  it('waits up to maxDelayMs for company when the model is idle', async () => {
    const { batcher, runs } = doubling({ maxDelayMs: 5_000 });
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    try {
      const first = predict(batcher, [1]);
      const second = predict(batcher, [2]);
      expect(runs).toEqual([]);
      jest.advanceTimersByTime(5_000);
      await expect(Promise.all([first, second])).resolves.toEqual([[3], [5]]);
      expect(runs).toEqual([2]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('admits a request all-or-nothing: beyond the bound a 503 with Retry-After, and nothing is queued', async () => {
    const { batcher } = doubling({ maxQueueRows: 4 });
    const admitted = batcher.admit(3);
    expect(batcher.queuedRows).toBe(3);
    let refusal: unknown;
    try {
      batcher.admit(2);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ServiceUnavailableError);
    expect(refusal).toMatchObject({ code: 'queue_full', headers: { 'Retry-After': '1' } });
    expect(batcher.queuedRows).toBe(3);
    admitted.cancel();
    admitted.cancel(); // idempotent
    expect(batcher.queuedRows).toBe(0);
    expect(() => batcher.admit(4).cancel()).not.toThrow();
  });

  it('one timer per request, not per row', async () => {
    const { batcher } = doubling({ maxBatchSize: 1000, maxQueueRows: 1000 });
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    try {
      const pending = predict(batcher, Array.from({ length: 1000 }, (_, i) => i));
      expect(jest.getTimerCount()).toBe(1);
      await pending;
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('a request that times out leaves the queue bound at once, while the model is still busy', async () => {
    const blocked = gate();
    const { batcher } = doubling({
      maxQueueRows: 4,
      maxBatchSize: 1,
      timeoutMs: 20,
      run: async (_buffers, n) => {
        await blocked.opened;
        return { y: { data: new Float32Array(n), dims: [n, 1] } };
      },
    });
    const running = predict(batcher, [0]).catch((error: unknown) => error); // taken into the (blocked) run at once
    await tick();
    const waiting = predict(batcher, [1, 2, 3]).catch((error: unknown) => error); // queued behind it
    expect(await waiting).toMatchObject({ status: 503, code: 'inference_timeout' });
    expect(await running).toMatchObject({ code: 'inference_timeout' });
    expect(batcher.queuedRows).toBe(0);
    expect(() => batcher.admit(4).cancel()).not.toThrow();
    blocked.open();
    await batcher.drain();
  });

  it('fails only the requests of a failed run', async () => {
    let call = 0;
    const { batcher } = doubling({
      maxBatchSize: 2,
      run: async (buffers, n) => {
        call++;
        if (call === 1) throw new Error('boom');
        return { y: { data: (buffers[0] as Float32Array).filter((_, i) => i % 2 === 0), dims: [n, 1] } };
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((v) => predict(batcher, [v])));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect(results.slice(2).map((r) => (r as PromiseFulfilledResult<number[]>).value)).toEqual([[3], [4]]);
  });

  it('runs up to `concurrency` batches at once', async () => {
    let running = 0;
    let peak = 0;
    const { batcher } = doubling({
      concurrency: 3,
      maxBatchSize: 2,
      run: async (_buffers, n) => {
        peak = Math.max(peak, ++running);
        await tick();
        await tick();
        running--;
        return { y: { data: new Float32Array(n), dims: [n, 1] } };
      },
    });
    await Promise.all(Array.from({ length: 12 }, (_, i) => predict(batcher, [i])));
    expect(peak).toBe(3);
  });

  it('bulk pieces run alone, up to their own run size, with no timer, and an abort drops a queued piece', async () => {
    const { batcher, runs } = doubling({ maxBatchSize: 2 });
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const controller = new AbortController();
    try {
      const online = predict(batcher, [1]);
      const bulk = batcher.submit(rows([1, 2, 3, 4, 5]), 5, undefined, { bulkRunRows: 5 });
      const dropped = batcher.submit(rows([6]), 1, undefined, { bulkRunRows: 5, signal: controller.signal });
      expect(jest.getTimerCount()).toBe(1); // the online request's only
      controller.abort(new Error('job cancelled'));
      await expect(dropped).rejects.toThrow('job cancelled');
      const result = await bulk;
      expect([0, 1, 2, 3, 4].map((i) => Number(result.row(i)['y']?.[0]))).toEqual([3, 5, 7, 9, 11]);
      await online;
      expect(runs).toEqual([1, 5]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('drain() resolves only once queued and running rows are done', async () => {
    const blocked = gate();
    const { batcher } = doubling({
      run: async (_buffers, n) => {
        await blocked.opened;
        return { y: { data: new Float32Array(n), dims: [n, 1] } };
      },
    });
    const pending = Promise.all([predict(batcher, [1]), predict(batcher, [2])]);
    let drained = false;
    const drain = batcher.drain().then(() => (drained = true));
    for (let i = 0; i < 5; i++) await tick();
    expect(drained).toBe(false);
    blocked.open();
    await pending;
    await drain;
    expect(drained).toBe(true);
    expect(batcher.queuedRows).toBe(0);
    expect(batcher.runsInFlight).toBe(0);
  });
});
