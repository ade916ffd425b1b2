import type { Logger } from 'winston';
import { availableThreads } from '../config/env';
import { HttpError } from '../errors/http-error';
import { ModelLoadError } from '../errors/model-load-error';
import { ServiceUnavailableError } from '../errors/service-unavailable-error';
import type { ServingMetrics } from '../metrics/metrics';
import { LoadedModel, type BatchingSettings } from './loaded-model';
import { ModelRepository } from './model-repository';
import type { PredictorDefinition } from './predictor';
import type { SessionSettings } from './session-runner';
import { WorkerPool } from './worker-pool';

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
  metrics?: ServingMetrics | undefined;
  logger: Logger;
}

export interface ModelRef {
  name: string;
  version: string;
}

export type InstanceResult<O> = { ok: true; output: O } | { ok: false; error: HttpError };

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
 * on reload and releases everything on stop. It knows nothing of HTTP, so the batch worker tier uses it too.
 */
export class PredictorRuntime<I, O, A> {
  readonly repository: ModelRepository;
  private current: LoadedModel<I, O, A> | undefined;
  private pool: WorkerPool | undefined;
  private readonly session: SessionSettings;
  private readonly workers: number;
  private reloading: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly logger: Logger;

  constructor(
    readonly definition: PredictorDefinition<I, O, A>,
    private readonly options: RuntimeOptions,
  ) {
    this.repository = new ModelRepository(options.modelDir ?? definition.defaultModelDir);
    const threads = resolveThreads(options);
    this.session = threads.session;
    this.workers = threads.workers;
    this.logger = options.logger.child({ component: 'predictor', model: definition.name });
  }

  /** Loads, checks and warms the pinned or newest version. Throws ModelLoadError if it cannot. */
  async start(): Promise<void> {
    if (this.options.mode === 'worker') this.pool = new WorkerPool(this.workers, this.logger);
    this.logger.info('inference settings', {
      mode: this.options.mode,
      workers: this.workers,
      intra_op_threads: this.session.intraOpNumThreads,
      inter_op_threads: this.session.interOpNumThreads,
      allow_spinning: this.session.allowSpinning,
      ...this.options.batching,
    });
    const version = this.options.version ?? (await this.repository.newest());
    this.install(await this.load(version));
  }

  get ready(): boolean {
    return this.current !== undefined && !this.stopped;
  }

  /** The serving version (throws 503 before start or after stop). */
  model(): LoadedModel<I, O, A> {
    if (!this.current || this.stopped) throw new ServiceUnavailableError('model is not loaded', 'model_not_ready');
    return this.current;
  }

  private load(version: string): Promise<LoadedModel<I, O, A>> {
    return LoadedModel.load(this.definition, {
      repository: this.repository,
      version,
      session: this.session,
      batching: this.options.batching,
      pool: this.pool,
      verifyGolden: this.options.verifyGolden ?? true,
      metrics: this.options.metrics,
      logger: this.logger,
    });
  }

  private install(model: LoadedModel<I, O, A>): LoadedModel<I, O, A> | undefined {
    const previous = this.current;
    this.current = model;
    const info = this.options.metrics?.modelInfo;
    if (previous) info?.remove({ model: previous.name, version: previous.version, sha256: previous.sha256 });
    info?.set({ model: model.name, version: model.version, sha256: model.sha256 }, 1);
    return previous;
  }

  /** Predicts one validated instance. Domain rejections throw their 4xx; overload throws 503. */
  async predict(input: I): Promise<{ output: O; model: ModelRef }> {
    const model = this.model();
    const row = model.featurizeMany([input]);
    const outputs = await model.batcher.submit(row);
    return { output: model.definition.toOutput(outputs, input, model.artifacts), model: { name: model.name, version: model.version } };
  }

  /**
   * Predicts many validated instances, in order. An instance that its feature code rejects is answered in
   * place with its error; the rest are predicted. All rows are queued or none (503 when the queue is full).
   */
  async predictMany(inputs: readonly I[]): Promise<{ results: InstanceResult<O>[]; model: ModelRef }> {
    const model = this.model();
    const results: InstanceResult<O>[] = new Array(inputs.length);
    const rows: Float32Array[] = [];
    const at: number[] = [];
    inputs.forEach((input, i) => {
      const row = new Float32Array(model.rowSize);
      try {
        model.definition.featurize(input, model.artifacts, row, 0);
        rows.push(row);
        at.push(i);
      } catch (error) {
        if (!(error instanceof HttpError) || error.status >= 500) throw error;
        results[i] = { ok: false, error };
      }
    });
    const settled = await Promise.allSettled(model.batcher.submitMany(rows));
    settled.forEach((s, k) => {
      const i = at[k] as number;
      if (s.status === 'rejected') throw s.reason;
      results[i] = { ok: true, output: model.definition.toOutput(s.value, inputs[i] as I, model.artifacts) };
    });
    return { results, model: { name: model.name, version: model.version } };
  }

  /**
   * Loads `version` (or the newest), checks and warms it, then swaps it in atomically: requests already
   * queued finish on the old version, which is released once drained. A version that fails leaves the old one
   * serving and throws ModelLoadError. Reloads run one at a time.
   */
  reload(version?: string): Promise<{ previous: ModelRef | undefined; current: ModelRef }> {
    const run = async () => {
      if (this.stopped) throw new ServiceUnavailableError('service is shutting down', 'draining');
      const target = version ?? (await this.repository.newest());
      let next: LoadedModel<I, O, A>;
      try {
        next = await this.load(target);
      } catch (error) {
        this.options.metrics?.modelReloads.inc({ model: this.definition.name, outcome: 'failed' });
        this.logger.warn('model reload failed; previous version keeps serving', {
          version: target,
          error: { message: (error as Error).message, stack: (error as Error).stack, details: (error as ModelLoadError).details },
        });
        throw error;
      }
      const previous = this.install(next);
      this.options.metrics?.modelReloads.inc({ model: this.definition.name, outcome: 'succeeded' });
      this.logger.info('model swapped', { from: previous?.version, to: next.version });
      if (previous) {
        previous.close().catch((error: Error) =>
          this.logger.error('releasing the replaced model failed', { version: previous.version, error: { message: error.message, stack: error.stack } }),
        );
      }
      return {
        previous: previous ? { name: previous.name, version: previous.version } : undefined,
        current: { name: next.name, version: next.version },
      };
    };
    const result = this.reloading.then(run, run);
    this.reloading = result.catch(() => undefined);
    return result;
  }

  /** Lets queued rows finish, then releases the sessions and worker threads. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.reloading;
    const model = this.current;
    if (model) await model.close();
    await this.pool?.close();
    this.pool = undefined;
  }
}
