import { ServiceUnavailableError } from '../errors/service-unavailable-error';

export interface BatcherOptions<R> {
  /** Most rows in one run. */
  maxBatchSize: number;
  /** Longest a row waits for company once the model is free; 0 gathers only what arrived in the same turn. */
  maxDelayMs: number;
  /** Rows that may wait; beyond it submit() answers 503 with Retry-After (backpressure). */
  maxQueueRows: number;
  /** Longest a row may wait and run in all; then its caller gets a 503 (the run, if started, finishes). */
  timeoutMs: number;
  /** Runs in flight at once: 1 on the JavaScript thread, the pool size on worker threads. */
  concurrency: number;
  /** Values per row. */
  rowSize: number;
  /** Runs one batch: `rows` is a [n, rowSize] row-major buffer; returns one result per row, in order. */
  run(rows: Float32Array, n: number): Promise<R[]>;
  onReject?(reason: 'queue_full' | 'timeout'): void;
  onQueueDepth?(rows: number): void;
}

interface Item<R> {
  row: Float32Array;
  resolve(value: R): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  done: boolean;
}

/**
 * Dynamic batching: concurrent submit() calls are coalesced into one model run of up to `maxBatchSize` rows.
 * While a run is in flight, arrivals queue and leave together in the next run; when the model is idle a run
 * starts after at most `maxDelayMs` (0: at the end of the current event-loop turn). A failed run fails only
 * the rows it carried.
 *
 * Written here: no npm package does dynamic batching with a bounded queue, per-row timeouts and bounded
 * concurrency (dataloader batches per tick but has neither a queue bound nor timeouts).
 */
export class DynamicBatcher<R> {
  private queue: Item<R>[] = [];
  private inFlight = 0;
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private waitingOnTimer = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: BatcherOptions<R>) {}

  get queuedRows(): number {
    return this.queue.length;
  }

  get runsInFlight(): number {
    return this.inFlight;
  }

  /** Queues one row (of `rowSize` values) and resolves with its result. */
  submit(row: Float32Array): Promise<R> {
    return this.submitMany([row])[0] as Promise<R>;
  }

  /** Queues rows all-or-nothing: if the queue cannot take every row, none is queued and it throws a 503. */
  submitMany(rows: readonly Float32Array[]): Promise<R>[] {
    const { maxQueueRows, timeoutMs } = this.options;
    if (this.queue.length + rows.length > maxQueueRows) {
      this.options.onReject?.('queue_full');
      throw new ServiceUnavailableError(
        `inference queue is full (${this.queue.length} of ${maxQueueRows} rows waiting)`,
        'queue_full',
      );
    }
    const promises = rows.map(
      (row) =>
        new Promise<R>((resolve, reject) => {
          const item: Item<R> = {
            row,
            resolve,
            reject,
            done: false,
            timer: setTimeout(() => {
              if (item.done) return;
              item.done = true;
              this.options.onReject?.('timeout');
              reject(new ServiceUnavailableError(`prediction did not finish within ${timeoutMs} ms`, 'inference_timeout'));
            }, timeoutMs),
          };
          this.queue.push(item);
        }),
    );
    this.options.onQueueDepth?.(this.queue.length);
    this.schedule();
    return promises;
  }

  private schedule(): void {
    if (this.inFlight >= this.options.concurrency || this.queue.length === 0) return;
    const { maxDelayMs, maxBatchSize } = this.options;
    const full = this.queue.length >= maxBatchSize;
    if (this.scheduled !== undefined) {
      // A full batch does not wait out the delay timer.
      if (!full || this.waitingOnTimer === false) return;
      clearTimeout(this.scheduled as NodeJS.Timeout);
    }
    const flush = () => {
      this.scheduled = undefined;
      this.dispatch();
    };
    this.waitingOnTimer = maxDelayMs > 0 && !full;
    this.scheduled = this.waitingOnTimer ? setTimeout(flush, maxDelayMs) : setImmediate(flush);
  }

  private dispatch(): void {
    while (this.inFlight < this.options.concurrency) {
      const batch = this.take();
      if (batch.length === 0) break;
      this.inFlight++;
      void this.runBatch(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) {
          // Rows that queued during the run have waited already: they go next without a further delay.
          if (this.scheduled !== undefined && this.waitingOnTimer) clearTimeout(this.scheduled as NodeJS.Timeout);
          if (this.scheduled === undefined || this.waitingOnTimer) {
            this.waitingOnTimer = false;
            this.scheduled = setImmediate(() => {
              this.scheduled = undefined;
              this.dispatch();
            });
          }
        }
        this.wakeIfIdle();
      });
    }
    this.wakeIfIdle();
  }

  private wakeIfIdle(): void {
    if (this.queue.length === 0 && this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Up to maxBatchSize rows whose callers are still waiting. */
  private take(): Item<R>[] {
    const batch: Item<R>[] = [];
    let i = 0;
    while (i < this.queue.length && batch.length < this.options.maxBatchSize) {
      const item = this.queue[i++] as Item<R>;
      if (!item.done) batch.push(item);
    }
    this.queue = this.queue.slice(i);
    this.options.onQueueDepth?.(this.queue.length);
    return batch;
  }

  private async runBatch(batch: Item<R>[]): Promise<void> {
    const { rowSize } = this.options;
    const rows = new Float32Array(batch.length * rowSize);
    batch.forEach((item, i) => rows.set(item.row, i * rowSize));
    try {
      const results = await this.options.run(rows, batch.length);
      batch.forEach((item, i) => this.settle(item, (it) => it.resolve(results[i] as R)));
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      batch.forEach((item) => this.settle(item, (it) => it.reject(e)));
    }
  }

  private settle(item: Item<R>, how: (item: Item<R>) => void): void {
    clearTimeout(item.timer);
    if (item.done) return;
    item.done = true;
    how(item);
  }

  /** Resolves once nothing is queued or running (used before releasing a replaced model). */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
