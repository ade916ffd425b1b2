import { ServiceUnavailableError } from '../errors/service-unavailable-error';
import type { InputLayout } from './row-writer';
import type { OutputData, RunOutputs } from './session-runner';
import type { TensorData } from './tensor';

/** 503 `inference_timeout`: a request's rows were not answered within REQUEST_TIMEOUT_MS (`ms`). */
export function inferenceTimeout(ms: number): ServiceUnavailableError {
  return new ServiceUnavailableError(`prediction did not finish within ${ms} ms`, 'inference_timeout');
}

export interface BatcherOptions {
  /** Most rows in one run of online requests. */
  maxBatchSize: number;
  /** Longest a row waits for company once the model is free; 0 gathers only what arrived in the same turn. */
  maxDelayMs: number;
  /** Online rows that may wait (admitted or queued); beyond it admit() answers 503 with Retry-After. */
  maxQueueRows: number;
  /** Longest an online entry may wait and run in all; then its caller gets a 503 (the run, if started, finishes). */
  timeoutMs: number;
  /** Runs in flight at once: 1 on the JavaScript thread, the pool size on worker threads. */
  concurrency: number;
  layout: InputLayout;
  /** Output names, in the card's order: what each row's answer holds. */
  outputNames: readonly string[];
  /** Runs one batch: one [n, ...] buffer per input, in the layout's order. */
  run(buffers: TensorData[], n: number): Promise<RunOutputs>;
  onReject?(reason: 'queue_full' | 'timeout'): void;
}

/** Rows admitted to the queue before they are featurized (the queue bound is checked once, up front). */
export class Admission {
  private open = true;

  constructor(
    readonly rows: number,
    private readonly giveBack: (rows: number) => void,
  ) {}

  /** Gives the rows back unused (the request failed before submitting). Idempotent. */
  cancel(): void {
    if (this.open) this.giveBack(this.rows);
    this.open = false;
  }

  /** `used` of the rows are submitted (they stay counted until taken into a run); the rest go back. */
  consume(used: number): void {
    if (!this.open) throw new Error('admission already used or cancelled');
    if (used > this.rows) throw new Error(`admitted ${this.rows} rows, submitted ${used}`);
    this.open = false;
    if (used < this.rows) this.giveBack(this.rows - used);
  }
}

export interface SubmitOptions {
  /** Rows of a bulk chunk: they run alone, up to this many per run, with no timeout (use `signal`). */
  bulkRunRows?: number;
  signal?: AbortSignal;
  /** Online rows: time out after this many ms instead of the batcher's timeoutMs (what is left of a request's deadline). */
  timeoutMs?: number | undefined;
}

/** The answers of one entry's rows: `row(i)` is row i's slice of every output, by output name. */
export class EntryResult {
  constructor(
    private readonly segments: readonly Segment[],
    private readonly names: readonly string[],
  ) {}

  row(i: number): Record<string, OutputData> {
    let seg = this.segments[0] as Segment;
    for (const s of this.segments) if (i >= s.start && i < s.start + s.count) seg = s;
    const at = seg.at + (i - seg.start);
    const row: Record<string, OutputData> = {};
    for (const name of this.names) {
      const out = seg.outputs[name];
      if (!out) throw new Error(`model run returned no '${name}' output`);
      const width = out.data.length / (out.dims[0] as number);
      row[name] = out.data.subarray(at * width, (at + 1) * width);
    }
    return row;
  }
}

interface Segment {
  outputs: RunOutputs;
  /** Row of the run where this entry's slice starts. */
  at: number;
  /** Row of the entry where the slice starts, and its length. */
  start: number;
  count: number;
}

class Entry {
  taken = 0;
  returned = 0;
  done = false;
  readonly segments: Segment[] = [];
  timer: NodeJS.Timeout | undefined;
  detach: (() => void) | undefined;

  constructor(
    readonly n: number,
    readonly buffers: TensorData[],
    readonly bulkRunRows: number | undefined,
    readonly resolve: (segments: Segment[]) => void,
    readonly reject: (error: Error) => void,
  ) {}
}

interface Slice {
  entry: Entry;
  start: number;
  count: number;
  at: number;
}

/**
 * Dynamic batching: concurrent requests are coalesced into one model run of up to `maxBatchSize` rows.
 * While a run is in flight, arrivals queue and leave together in the next run; when the model is idle a run
 * starts after at most `maxDelayMs` (0: at the end of the current event-loop turn). A failed run fails only
 * the entries it carried.
 *
 * The queue holds entries (one request's rows, or one piece of a bulk chunk), not rows: one promise and one
 * timer per entry, rows kept in the entry's per-input buffers, and a head index instead of array copies, so
 * the cost per row is constant. An entry larger than the room left in a run is split across runs.
 *
 * Written here: no npm package does dynamic batching with a bounded queue, timeouts and bounded concurrency
 * (dataloader batches per tick but has neither a queue bound nor timeouts).
 */
export class DynamicBatcher {
  private readonly queue: (Entry | undefined)[] = [];
  private head = 0;
  /** Online rows admitted and not yet taken into a run (the bounded quantity). */
  private pendingRows = 0;
  /** Untaken rows of live entries, online and bulk: what drain() waits for. */
  private waitingRows = 0;
  private inFlight = 0;
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private waitingOnTimer = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: BatcherOptions) {}

  /** Online rows admitted or queued, not yet running. */
  get queuedRows(): number {
    return this.pendingRows;
  }

  get runsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Admits `rows` online rows or refuses them all at once with 503 `queue_full`: called as soon as a
   * request's size is known, before anything is featurized.
   */
  admit(rows: number): Admission {
    const { maxQueueRows } = this.options;
    if (this.pendingRows + rows > maxQueueRows) {
      this.options.onReject?.('queue_full');
      throw new ServiceUnavailableError(
        `inference queue is full (${this.pendingRows} of ${maxQueueRows} rows waiting; this request needs ${rows})`,
        'queue_full',
      );
    }
    this.pendingRows += rows;
    return new Admission(rows, (n) => {
      this.pendingRows -= n;
    });
  }

  /**
   * Queues `n` featurized rows (one buffer per input, in the layout's order) and resolves with their answers.
   * Online rows must come with their admission (which this consumes; rows refused in place since go back);
   * bulk rows pass `bulkRunRows` instead.
   */
  submit(buffers: TensorData[], n: number, admission: Admission | undefined, options: SubmitOptions = {}): Promise<EntryResult> {
    if (!admission && options.bulkRunRows === undefined) throw new Error('online rows need an admission');
    admission?.consume(n);
    return new Promise<Segment[]>((resolve, reject) => {
      if (n === 0) {
        resolve([]);
        return;
      }
      const entry = new Entry(n, buffers, options.bulkRunRows, resolve, reject);
      if (admission) {
        const { timeoutMs } = this.options;
        entry.timer = setTimeout(() => {
          this.options.onReject?.('timeout');
          this.abandon(entry, inferenceTimeout(timeoutMs));
        }, options.timeoutMs ?? timeoutMs);
      }
      const { signal } = options;
      if (signal) {
        if (signal.aborted) {
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          return;
        }
        const onAbort = () => this.abandon(entry, signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        entry.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.waitingRows += n;
      this.queue.push(entry);
      this.schedule();
    }).then((segments) => new EntryResult(segments, this.options.outputNames));
  }

  /** The caller gave up (timeout, abort): its untaken rows leave the queue's counts now. */
  private abandon(entry: Entry, error: Error): void {
    if (entry.done) return;
    this.fail(entry, error);
    this.wakeIfIdle();
  }

  /** Settles an entry: no more timer or abort listener. */
  private finish(entry: Entry): void {
    entry.done = true;
    clearTimeout(entry.timer);
    entry.detach?.();
  }

  /** Rejects an entry; its untaken rows leave the counts. */
  private fail(entry: Entry, error: Error): void {
    this.finish(entry);
    const untaken = entry.n - entry.taken;
    this.waitingRows -= untaken;
    if (entry.bulkRunRows === undefined) this.pendingRows -= untaken;
    entry.reject(error);
  }

  private schedule(): void {
    if (this.inFlight >= this.options.concurrency || this.waitingRows === 0) return;
    const { maxDelayMs, maxBatchSize } = this.options;
    const full = this.waitingRows >= maxBatchSize;
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
        if (this.waitingRows > 0) {
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
    if (this.waitingRows === 0 && this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * The next run: online entries' rows up to maxBatchSize (splitting the last entry if it does not fit), or
   * the rows of one bulk entry up to its own run size. Abandoned entries are skipped. O(rows taken).
   */
  private take(): Slice[] {
    const batch: Slice[] = [];
    let rows = 0;
    let limit = this.options.maxBatchSize;
    while (this.head < this.queue.length && rows < limit) {
      const entry = this.queue[this.head] as Entry;
      if (entry.done) {
        this.queue[this.head++] = undefined;
        continue;
      }
      if (entry.bulkRunRows !== undefined) {
        if (rows > 0) break; // a bulk piece runs alone
        limit = entry.bulkRunRows;
      }
      const count = Math.min(entry.n - entry.taken, limit - rows);
      batch.push({ entry, start: entry.taken, count, at: rows });
      entry.taken += count;
      rows += count;
      this.waitingRows -= count;
      if (entry.bulkRunRows === undefined) this.pendingRows -= count;
      if (entry.taken === entry.n) this.queue[this.head++] = undefined;
      if (entry.bulkRunRows !== undefined) break;
    }
    // Drop the consumed prefix now and then, so the array neither grows nor gets copied on every batch.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return batch;
  }

  /** One buffer per input for the run: an entry's own buffers when it runs whole and alone, else a copy. */
  private gather(batch: Slice[], rows: number): TensorData[] {
    const only = batch[0] as Slice;
    if (batch.length === 1 && only.start === 0 && only.count === only.entry.n) return only.entry.buffers;
    const { layout } = this.options;
    const buffers = layout.allocate(rows);
    buffers.forEach((target, k) => {
      const size = layout.sizes[k] as number;
      for (const { entry, start, count, at } of batch) {
        const source = entry.buffers[k] as TensorData;
        (target as Float32Array).set((source as Float32Array).subarray(start * size, (start + count) * size), at * size);
      }
    });
    return buffers;
  }

  private async runBatch(batch: Slice[]): Promise<void> {
    const rows = batch.reduce((n, s) => n + s.count, 0);
    try {
      const outputs = await this.options.run(this.gather(batch, rows), rows);
      for (const { entry, start, count, at } of batch) {
        if (entry.done) continue;
        entry.segments.push({ outputs, at, start, count });
        entry.returned += count;
        if (entry.returned === entry.n) {
          this.finish(entry);
          entry.resolve(entry.segments);
        }
      }
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      for (const { entry } of batch) if (!entry.done) this.fail(entry, e);
    }
  }

  /** Resolves once nothing is queued or running (used before releasing a replaced model). */
  drain(): Promise<void> {
    if (this.waitingRows === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
