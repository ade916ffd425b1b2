import { ServiceUnavailableError } from '../errors/service-unavailable-error';
import { DynamicBatcher, type BatcherOptions } from './dynamic-batcher';

/** A batcher whose "model" doubles the first value of each row and records every run's size. */
function doubling(overrides: Partial<BatcherOptions<number>> = {}) {
  const runs: number[] = [];
  const batcher = new DynamicBatcher<number>({
    maxBatchSize: 8,
    maxDelayMs: 0,
    maxQueueRows: 100,
    timeoutMs: 1000,
    concurrency: 1,
    rowSize: 2,
    run: async (rows, n) => {
      runs.push(n);
      await new Promise((r) => setTimeout(r, 5));
      return Array.from({ length: n }, (_, i) => (rows[i * 2] as number) * 2);
    },
    ...overrides,
  });
  return { batcher, runs };
}

const row = (v: number) => new Float32Array([v, 0]);

describe('DynamicBatcher', () => {
  it('coalesces concurrent rows into fewer runs and returns each caller its own result', async () => {
    const { batcher, runs } = doubling();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => batcher.submit(row(i))));
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(runs.length).toBeLessThan(20);
    expect(Math.max(...runs)).toBeLessThanOrEqual(8);
    expect(runs.reduce((a, b) => a + b, 0)).toBe(20);
  });

  it('waits up to maxDelayMs for company when the model is idle', async () => {
    const { batcher, runs } = doubling({ maxDelayMs: 30 });
    const first = batcher.submit(row(1));
    await new Promise((r) => setTimeout(r, 5));
    const second = batcher.submit(row(2));
    await expect(Promise.all([first, second])).resolves.toEqual([2, 4]);
    expect(runs).toEqual([2]);
  });

  it('refuses rows beyond the queue bound with a 503 and Retry-After, queuing none of them', async () => {
    const { batcher } = doubling({ maxQueueRows: 4 });
    const accepted = batcher.submitMany([row(1), row(2), row(3)]);
    expect(() => batcher.submitMany([row(4), row(5)])).toThrow(ServiceUnavailableError);
    try {
      batcher.submit(row(6));
      batcher.submit(row(7));
      throw new Error('expected queue_full');
    } catch (error) {
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect((error as ServiceUnavailableError).code).toBe('queue_full');
      expect((error as ServiceUnavailableError).headers['Retry-After']).toBe('1');
    }
    await expect(Promise.all(accepted)).resolves.toEqual([2, 4, 6]);
  });

  it('fails a row that outlives its timeout, without failing the others', async () => {
    const { batcher } = doubling({
      timeoutMs: 20,
      run: async (rows, n) => {
        await new Promise((r) => setTimeout(r, rows[0] === 99 ? 60 : 1));
        return Array.from({ length: n }, () => 1);
      },
      maxBatchSize: 1,
      concurrency: 2,
    });
    const slow = batcher.submit(row(99));
    const fast = batcher.submit(row(1));
    await expect(slow).rejects.toMatchObject({ status: 503, code: 'inference_timeout' });
    await expect(fast).resolves.toBe(1);
  });

  it('fails only the callers of a failed run', async () => {
    let call = 0;
    const { batcher } = doubling({
      maxBatchSize: 2,
      run: async (rows, n) => {
        call++;
        if (call === 1) throw new Error('boom');
        return Array.from({ length: n }, (_, i) => rows[i * 2] as number);
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((v) => batcher.submit(row(v))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect(results.slice(2).map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual([3, 4]);
  });

  it('runs up to `concurrency` batches at once', async () => {
    let running = 0;
    let peak = 0;
    const { batcher } = doubling({
      concurrency: 3,
      maxBatchSize: 2,
      run: async (_rows, n) => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        return new Array<number>(n).fill(0);
      },
    });
    await Promise.all(Array.from({ length: 12 }, (_, i) => batcher.submit(row(i))));
    expect(peak).toBe(3);
  });

  it('drain() resolves once queued and running rows are done', async () => {
    const { batcher } = doubling();
    const pending = Promise.all([batcher.submit(row(1)), batcher.submit(row(2))]);
    let drained = false;
    const drain = batcher.drain().then(() => (drained = true));
    expect(drained).toBe(false);
    await pending;
    await drain;
    expect(batcher.queuedRows).toBe(0);
    expect(batcher.runsInFlight).toBe(0);
  });
});
