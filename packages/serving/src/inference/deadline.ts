import { inferenceTimeout } from './dynamic-batcher';

/**
 * One online request's deadline (REQUEST_TIMEOUT_MS from the moment it is predicted) through the prepare stage
 * and the queue. It costs a clock read: the batcher's own per-row timer gets what is left, and the AbortSignal
 * that prepare may pass to its I/O is made only when prepare reads it. An AbortController with a timer and an
 * abort listener made for every request cost ~10 µs of CPU each, and no predictor here reads the signal.
 */
export class Deadline {
  private readonly endsAt: number;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {
    this.endsAt = performance.now() + ms;
  }

  /** Milliseconds left, 0 once the deadline has passed. */
  remainingMs(): number {
    return Math.max(0, this.endsAt - performance.now());
  }

  /** 503 `inference_timeout` once the deadline has passed. */
  throwIfPassed(): void {
    if (this.remainingMs() === 0) throw inferenceTimeout(this.ms);
  }

  /** Aborts (with the 503 as its reason) at the deadline; made, with its timer, on first read. */
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      const left = this.remainingMs();
      if (left === 0) controller.abort(inferenceTimeout(this.ms));
      else {
        this.timer = setTimeout(() => controller.abort(inferenceTimeout(this.ms)), left);
        this.timer.unref();
      }
    }
    return this.controller.signal;
  }

  /** The request is answered: no timer stays behind. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
