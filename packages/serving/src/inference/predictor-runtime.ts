import type { DriftSettings } from '../drift/drift-monitor';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Sema } from 'async-sema';
import type { Logger } from 'winston';
import { availableThreads } from '../config/env';
import type { ModelLoadError } from '../errors/model-load-error';
import { ServiceUnavailableError } from '../errors/service-unavailable-error';
import { ValidationError } from '../errors/validation-error';
import { zodIssues } from '../errors/zod-issues';
import type { ServingMetrics } from '../metrics/metrics';
import type { Admission } from './dynamic-batcher';
import { Deadline } from './deadline';
import { LoadedModel, type BatchingSettings, type InstanceResult } from './loaded-model';
import { ModelRepository } from './model-repository';
import { ModelState, servingVersion } from './model-state';
import type { PredictorDefinition } from './predictor';
import type { SessionSettings } from './session-runner';
import { WorkerPool, type WorkerPoolOptions } from './worker-pool';

export interface RuntimeOptions {
  modelDir?: string | undefined;
  /** Pin a version; the newest otherwise. */
  version?: string | undefined;
  batching: BatchingSettings;
  mode: 'inline' | 'worker';
  /** Worker threads in worker mode; 0 = availableParallelism - 1 (at least 1). */
  workers?: number;
  /** 0 = derive from os.availableParallelism(). */
  intraOpThreads?: number;
  interOpThreads?: number;
  allowSpinning?: boolean;
  verifyGolden?: boolean;
  /** Concurrent prepare calls (requests or bulk pieces) at most. */
  prepareConcurrency?: number;
  /** Bound on a version's warm-up and golden check. */
  warmupTimeoutMs?: number;
  /** Rows per model run for bulk chunks (predictChunk). */
  bulkRunRows?: number;
  /** Worker mode: a run on a worker thread fails after this long and the thread is replaced (default 60 s). */
  runTimeoutMs?: number;
  /** Worker mode, tests only: the threads' script and workerData (a script that injects faults). */
  workerPool?: Pick<WorkerPoolOptions, 'workerFile' | 'workerData'>;
  /** Drift monitoring of served rows for a version whose card has a drift_reference (needs metrics). */
  drift?: DriftSettings | undefined;
  metrics?: ServingMetrics | undefined;
  logger: Logger;
}

export interface ModelRef {
  name: string;
  version: string;
}

export type { InstanceResult };

export interface ChunkOptions {
  /** Aborts the chunk: queued pieces are dropped and the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each piece with the instances finished so far. */
  onProgress?(done: number): void;
}

/** Thread counts from os.availableParallelism() (affinity- and cgroup-aware), never the host's core count. */
export function resolveThreads(options: Pick<RuntimeOptions, 'mode' | 'workers' | 'intraOpThreads' | 'interOpThreads' | 'allowSpinning'>) {
  const available = availableThreads();
  const workers = options.mode === 'worker' ? options.workers || Math.max(1, available - 1) : 0;
  const session: SessionSettings = {
    intraOpNumThreads: options.intraOpThreads || (options.mode === 'worker' ? Math.max(1, Math.floor(available / workers)) : available),
    interOpNumThreads: options.interOpThreads || 1,
    allowSpinning: options.allowSpinning ?? false,
  };
  return { workers, session };
}

/**
 * A predictor brought to life: loads a model version, batches predictions into it, swaps versions atomically
 * on reload and releases everything on stop. It knows nothing of HTTP, so the batch worker tier uses it too
 * (predictChunk for bulk work).
 */
export class PredictorRuntime<I, O, A, P = I> {
  readonly repository: ModelRepository;
  readonly state: ModelState;
  private current: LoadedModel<I, O, A, P> | undefined;
  /** Replaced versions still finishing their requests; stop() waits for them. */
  private readonly retiring = new Set<LoadedModel<I, O, A, P>>();
  private readonly closing = new Set<Promise<void>>();
  private pool: WorkerPool | undefined;
  private readonly session: SessionSettings;
  private readonly workers: number;
  private readonly prepareGate: Sema;
  private reloading: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private watcher: NodeJS.Timeout | undefined;
  private readonly unwatchQueue: (() => void) | undefined;
  private readonly unwatchDrift: (() => void) | undefined;
  private readonly logger: Logger;

  constructor(
    readonly definition: PredictorDefinition<I, O, A, P>,
    private readonly options: RuntimeOptions,
  ) {
    this.repository = new ModelRepository(options.modelDir ?? definition.defaultModelDir);
    this.state = new ModelState(this.repository.root);
    const threads = resolveThreads(options);
    this.session = threads.session;
    this.workers = threads.workers;
    this.prepareGate = new Sema(options.prepareConcurrency ?? 4);
    this.logger = options.logger.child({ component: 'predictor', model: definition.name });
    this.unwatchQueue = options.metrics?.watchQueue(definition.name, () => this.queuedRows());
    this.unwatchDrift = options.drift ? options.metrics?.watchDrift(definition.name, () => this.current?.drift?.snapshot()) : undefined;
  }

  /**
   * Loads, checks and warms the pinned version, else the active one (`<MODEL_DIR>/active`, else the newest
   * version that is not a candidate). Throws ModelLoadError if it cannot.
   */
  async start(): Promise<void> {
    if (this.options.mode === 'worker') this.pool = new WorkerPool({ size: this.workers, logger: this.logger, runTimeoutMs: this.options.runTimeoutMs, ...this.options.workerPool });
    this.logger.info('inference settings', {
      mode: this.options.mode,
      workers: this.workers,
      intra_op_threads: this.session.intraOpNumThreads,
      inter_op_threads: this.session.interOpNumThreads,
      allow_spinning: this.session.allowSpinning,
      prepare_concurrency: this.options.prepareConcurrency ?? 4,
      ...this.options.batching,
    });
    const version = this.options.version ?? (await servingVersion(this.repository, this.state));
    this.install(await this.load(version));
  }

  /**
   * Follows the `active` pointer: every `intervalMs` it reads the file and, when it names another version,
   * reloads (a promotion or rollback made through any replica or the CLI reaches this one within one
   * interval). A version that fails to load keeps the old one serving and is not retried until the pointer
   * changes again. Off when MODEL_VERSION pins a version.
   */
  watch(intervalMs: number): void {
    if (this.options.version !== undefined || intervalMs <= 0 || this.watcher) return;
    let failed: string | undefined;
    let busy = false;
    this.watcher = setInterval(() => {
      if (busy || this.stopped) return;
      busy = true;
      void this.state
        .active()
        .then(async (active) => {
          if (active === undefined || active === failed || active === this.current?.version) return;
          try {
            await this.reload(active);
            failed = undefined;
          } catch (error) {
            failed = active;
            this.logger.error('the active version could not be loaded; the previous version keeps serving', {
              version: active,
              error: { message: (error as Error).message },
            });
          }
        })
        .catch((error: Error) => this.logger.warn('reading the active-version file failed', { error: { message: error.message } }))
        .finally(() => {
          busy = false;
        });
    }, intervalMs);
    this.watcher.unref();
  }

  /** The worker threads in worker mode (diagnostics; tests terminate a thread through it). */
  get workerPool(): WorkerPool | undefined {
    return this.pool;
  }

  get ready(): boolean {
    return this.current !== undefined && !this.stopped;
  }

  /** The serving version (throws 503 before start or after stop). */
  model(): LoadedModel<I, O, A, P> {
    if (!this.current || this.stopped) throw new ServiceUnavailableError('model is not loaded', 'model_not_ready');
    return this.current;
  }

  /** The options this runtime was made with (a promoter scores versions with the same settings). */
  get settings(): Readonly<RuntimeOptions> {
    return this.options;
  }

  /** Online rows waiting in every live version (the queue-depth gauge reads this at scrape time). */
  queuedRows(): number {
    let rows = this.current?.batcher.queuedRows ?? 0;
    for (const m of this.retiring) rows += m.batcher.queuedRows;
    return rows;
  }

  private load(version: string): Promise<LoadedModel<I, O, A, P>> {
    return LoadedModel.load(this.definition, {
      repository: this.repository,
      version,
      session: this.session,
      batching: this.options.batching,
      pool: this.pool,
      verifyGolden: this.options.verifyGolden ?? true,
      warmupTimeoutMs: this.options.warmupTimeoutMs ?? 60_000,
      prepareGate: this.prepareGate,
      metrics: this.options.metrics,
      logger: this.logger,
    });
  }

  private install(model: LoadedModel<I, O, A, P>): LoadedModel<I, O, A, P> | undefined {
    const previous = this.current;
    // Monitoring starts once the version serves: warm-up and golden rows are not served rows.
    if (this.options.drift && this.options.metrics) model.monitorDrift(this.options.drift, this.logger);
    this.current = model;
    const info = this.options.metrics?.modelInfo;
    if (previous) info?.remove({ model: previous.name, version: previous.version, sha256: previous.sha256 });
    info?.set({ model: model.name, version: model.version, sha256: model.sha256 }, 1);
    return previous;
  }

  /** Predicts one validated instance. A refusal throws its 4xx; overload throws 503. */
  async predict(input: I): Promise<{ output: O; model: ModelRef }> {
    const { results, model } = await this.predictMany([input]);
    const result = results[0] as InstanceResult<O>;
    if (!result.ok) throw result.error;
    return { output: result.output, model };
  }

  /**
   * Predicts validated instances of one request, in order, on one model version (leased for the whole
   * request). The queue admits all rows or none (503 `queue_full`) before anything is prepared or
   * featurized; an instance refused by prepare or its feature code is answered in place.
   */
  async predictMany(inputs: readonly I[]): Promise<{ results: InstanceResult<O>[]; model: ModelRef }> {
    const model = this.model();
    const release = model.lease();
    let admission: Admission | undefined;
    // Only a prepare stage needs a deadline of its own (without one, the batcher's per-row timer is the deadline);
    // it is a clock read, with a timer and a signal only if prepare asks for the signal.
    const deadline = this.definition.prepare ? new Deadline(this.options.batching.timeoutMs) : undefined;
    try {
      admission = model.batcher.admit(inputs.length);
      const results = await model.infer(inputs, { admission, deadline });
      return { results, model: { name: model.name, version: model.version } };
    } finally {
      deadline?.clear();
      admission?.cancel();
      release();
    }
  }

  /**
   * Bulk work (the batch tier): validates raw instances, then prepares, featurizes and runs them in pieces
   * of `bulkRunRows` rows, one buffer and one batcher entry per piece (no promise or timer per row),
   * keeping the runners busy and yielding to the event loop between pieces so timers and I/O (BullMQ lock
   * renewals) keep running. Every instance is answered in place: its output or its error.
   */
  async predictChunk(instances: readonly unknown[], options: ChunkOptions = {}): Promise<{ results: InstanceResult<O>[]; model: ModelRef }> {
    const model = this.model();
    const release = model.lease();
    const { signal } = options;
    const piece = this.options.bulkRunRows ?? 1024;
    const depth = (this.pool?.size ?? 1) + 1;
    const results: InstanceResult<O>[] = new Array(instances.length);
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let done = 0;
    try {
      for (let start = 0; start < instances.length && !failure; start += piece) {
        signal?.throwIfAborted();
        const valid: I[] = [];
        const at: number[] = [];
        const end = Math.min(instances.length, start + piece);
        for (let i = start; i < end; i++) {
          const parsed = this.definition.input.safeParse(instances[i]);
          if (parsed.success) {
            valid.push(parsed.data);
            at.push(i);
          } else results[i] = { ok: false, error: new ValidationError(zodIssues(parsed.error)) };
        }
        const task: Promise<void> = model.infer(valid, { bulkRunRows: piece, signal }).then(
          (rows) => {
            rows.forEach((r, k) => (results[at[k] as number] = r));
            done += end - start;
            options.onProgress?.(done);
            inFlight.delete(task);
          },
          (error: unknown) => {
            failure ??= { error };
            inFlight.delete(task);
          },
        );
        inFlight.add(task);
        if (inFlight.size >= depth) await Promise.race(inFlight);
        await yieldToEventLoop();
      }
      await Promise.all(inFlight);
      if (failure) throw failure.error;
      signal?.throwIfAborted();
      return { results, model: { name: model.name, version: model.version } };
    } finally {
      release();
    }
  }

  /**
   * Loads `version` (or the active one, as start() picks it), checks and warms it, then swaps it in atomically: requests already
   * started finish on the old version, which is released once its leases and queue drain. A version that
   * fails leaves the old one serving and throws ModelLoadError. Reloads run one at a time.
   */
  reload(version?: string): Promise<{ previous: ModelRef | undefined; current: ModelRef }> {
    const run = async () => {
      if (this.stopped) throw new ServiceUnavailableError('service is shutting down', 'draining');
      const target = version ?? (await servingVersion(this.repository, this.state));
      let next: LoadedModel<I, O, A, P>;
      try {
        next = await this.load(target);
      } catch (error) {
        this.options.metrics?.modelReloads.inc({ model: this.definition.name, outcome: 'failed' });
        this.logger.warn('model reload failed; previous version keeps serving', {
          version: target,
          error: { message: (error as Error).message, details: (error as ModelLoadError).details },
        });
        throw error;
      }
      const previous = this.install(next);
      this.options.metrics?.modelReloads.inc({ model: this.definition.name, outcome: 'succeeded' });
      this.logger.info('model swapped', { from: previous?.version, to: next.version });
      if (previous) this.retire(previous);
      return {
        previous: previous ? { name: previous.name, version: previous.version } : undefined,
        current: { name: next.name, version: next.version },
      };
    };
    const result = this.reloading.then(run, run);
    this.reloading = result.catch(() => undefined);
    return result;
  }

  /** Releases a replaced version once its requests finish; stop() waits for it. */
  private retire(model: LoadedModel<I, O, A, P>): void {
    this.retiring.add(model);
    const closing = model
      .close()
      .catch((error: Error) => {
        this.logger.error('releasing the replaced model failed', { version: model.version, error: { message: error.message, stack: error.stack } });
      })
      .finally(() => {
        this.retiring.delete(model);
        this.closing.delete(closing);
      });
    this.closing.add(closing);
  }

  /** Lets started requests finish on every live version, then releases the sessions and worker threads. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watcher);
    await this.reloading;
    const model = this.current;
    if (model) this.retire(model);
    await Promise.all(this.closing);
    this.unwatchQueue?.();
    this.unwatchDrift?.();
    await this.pool?.close();
    this.pool = undefined;
  }
}
