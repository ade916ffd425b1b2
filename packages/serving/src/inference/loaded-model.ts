import { DriftMonitor, type DriftSettings } from '../drift/drift-monitor';
import { driftReferenceSchema } from '../drift/drift-reference';
import { zodIssues } from '../errors/zod-issues';
import type { Sema } from 'async-sema';
import type { Logger } from 'winston';
import { HttpError } from '../errors/http-error';
import { ModelLoadError } from '../errors/model-load-error';
import type { ServingMetrics } from '../metrics/metrics';
import type { Deadline } from './deadline';
import { DynamicBatcher, type Admission } from './dynamic-batcher';
import { compareGolden, readGolden, type GoldenFile } from './golden';
import { rowBytes, type ModelCard } from './model-card';
import type { ModelRepository } from './model-repository';
import { checkSignature } from './model-signature';
import type { PredictorDefinition, RowOutputs } from './predictor';
import { InputLayout, RowWriter } from './row-writer';
import { InlineSessionRunner, type Feeds, type SessionRunner, type SessionSettings } from './session-runner';
import type { TensorData } from './tensor';
import type { WorkerPool } from './worker-pool';

export interface BatchingSettings {
  maxBatchSize: number;
  maxDelayMs: number;
  maxQueueRows: number;
  /** Bytes of featurized rows that may wait; with the card's row size it caps the queued rows too. */
  maxQueueBytes: number;
  timeoutMs: number;
}

export interface LoadOptions {
  repository: ModelRepository;
  version: string;
  session: SessionSettings;
  batching: BatchingSettings;
  /** Runs on worker threads when given; on the JavaScript thread otherwise. */
  pool: WorkerPool | undefined;
  verifyGolden: boolean;
  /** Bound on warm-up and golden checks together. */
  warmupTimeoutMs: number;
  /** Shared by every version of a runtime: bounds concurrent prepare calls. */
  prepareGate: Sema;
  metrics: ServingMetrics | undefined;
  logger: Logger;
}

export type InstanceResult<O> = { ok: true; output: O } | { ok: false; error: HttpError };

/** What one pass of the pipeline gives an instance: its raw output row and prepared input, or its error. */
export type RowResult<P> = { ok: true; row: RowOutputs; prepared: P } | { ok: false; error: HttpError };

export interface PassOptions {
  /** Online rows: admitted to the queue up front (they time out with REQUEST_TIMEOUT_MS). */
  admission?: Admission;
  /** Bulk rows: run alone, this many per run, no timeout. */
  bulkRunRows?: number;
  /** A caller's signal (a bulk chunk, the warm-up): aborts prepare and drops queued rows. */
  signal?: AbortSignal | undefined;
  /** An online request's deadline when the predictor has a prepare stage: checked around prepare, the rest goes to the queue. */
  deadline?: Deadline | undefined;
}

/** Never aborts: what prepare sees when a pass has no signal. */
const NEVER = new AbortController().signal;

/** A 4xx refusal of one instance is answered in place; anything else is our fault or overload: rethrow. */
function refusal(error: unknown): HttpError {
  if (error instanceof HttpError && error.status < 500) return error;
  throw error;
}

/**
 * One model version, loaded, checked against its card, warmed up and (if it ships golden vectors) proved to
 * reproduce them, with its own dynamic batcher. A hot reload builds a new LoadedModel beside the old one;
 * requests hold a lease on the version they started on, and close() waits for every lease and queued row.
 */
export class LoadedModel<I, O, A, P = I> {
  readonly loadedAt = new Date();
  readonly layout: InputLayout;
  readonly batcher: DynamicBatcher;
  readonly outputNames: string[];
  /** Set once the version serves and its card has a drift_reference: every served row is observed. */
  drift: DriftMonitor | undefined;
  private driftInput = -1;
  private leases = 0;
  private leaseWaiters: (() => void)[] = [];

  private constructor(
    readonly definition: PredictorDefinition<I, O, A, P>,
    readonly dir: string,
    readonly card: ModelCard,
    readonly sha256: string,
    readonly artifacts: A,
    private readonly runner: SessionRunner,
    private readonly options: LoadOptions,
  ) {
    const { batching, metrics } = options;
    this.layout = new InputLayout(card.inputs);
    this.outputNames = card.outputs.map((o) => o.name);
    const labels = { model: card.name, version: card.version };
    this.batcher = new DynamicBatcher({
      ...batching,
      maxQueueRows: LoadedModel.queueRows(card, batching),
      concurrency: options.pool ? options.pool.size : 1,
      layout: this.layout,
      outputNames: this.outputNames,
      run: async (buffers, n) => {
        const end = metrics?.inferenceDuration.startTimer(labels);
        try {
          const result = await this.runner.run(this.feeds(buffers, n));
          end?.();
          metrics?.batchSize.observe(labels, n);
          metrics?.predictions.inc(labels, n);
          return result;
        } catch (error) {
          metrics?.inferenceErrors.inc(labels);
          throw error;
        }
      },
      onReject: (reason) => metrics?.queueRejections.inc({ model: card.name, reason }),
    });
  }

  /** Starts drift monitoring when the card carries a valid drift_reference for one of its float inputs; a bad one is logged and ignored. */
  monitorDrift(settings: DriftSettings, logger: Logger): void {
    const raw = (this.card as Record<string, unknown>)['drift_reference'];
    if (raw === undefined) return;
    const parsed = driftReferenceSchema.safeParse(raw);
    const input = parsed.success ? this.card.inputs.findIndex((s) => s.name === parsed.data.input && (s.type === 'float32' || s.type === 'float64')) : -1;
    const size = input >= 0 ? (this.layout.sizes[input] as number) : 0;
    if (!parsed.success || input < 0 || parsed.data.features.some((f) => f.index >= size)) {
      logger.warn('drift_reference of the card is not usable; drift is not monitored', { version: this.version, problems: parsed.success ? 'input or column not in the card' : zodIssues(parsed.error) });
      return;
    }
    this.driftInput = input;
    this.drift = new DriftMonitor(parsed.data, settings);
  }

  /** Rows the queue may hold: MAX_QUEUE_ROWS, or fewer when MAX_QUEUE_BYTES of this card's rows is less. */
  static queueRows(card: ModelCard, batching: Pick<BatchingSettings, 'maxQueueRows' | 'maxQueueBytes'>): number {
    return Math.min(batching.maxQueueRows, Math.floor(batching.maxQueueBytes / rowBytes(card)));
  }

  get name(): string {
    return this.card.name;
  }

  get version(): string {
    return this.card.version;
  }

  static async load<I, O, A, P>(definition: PredictorDefinition<I, O, A, P>, options: LoadOptions): Promise<LoadedModel<I, O, A, P>> {
    const { repository, version, logger } = options;
    const { dir, card, onnx, sha256 } = await repository.open(version);
    if (card.name !== definition.name) {
      throw new ModelLoadError(`model card names '${card.name}', this service serves '${definition.name}'`);
    }
    const queueRows = LoadedModel.queueRows(card, options.batching);
    if (queueRows < definition.maxBatchInstances) {
      throw new ModelLoadError(
        `the inference queue holds ${queueRows} rows of this model (MAX_QUEUE_ROWS, MAX_QUEUE_BYTES / ${rowBytes(card)} bytes a row), fewer than the ${definition.maxBatchInstances} instances a batch request may carry`,
      );
    }
    let artifacts: A;
    try {
      artifacts = await definition.loadArtifacts(dir, card);
    } catch (error) {
      throw new ModelLoadError(`artifacts of version ${version} cannot be loaded: ${(error as Error).message}`, undefined, error);
    }
    let runner: SessionRunner;
    try {
      runner = options.pool
        ? await options.pool.load(`${card.name}@${version}`, onnx, options.session)
        : await InlineSessionRunner.create(onnx, options.session);
    } catch (error) {
      throw new ModelLoadError(`onnxruntime cannot load version ${version}: ${(error as Error).message}`, undefined, error);
    }
    const model = new LoadedModel(definition, dir, card, sha256, artifacts, runner, options);
    const signal = AbortSignal.timeout(options.warmupTimeoutMs);
    try {
      checkSignature(card, runner);
      await model.bounded(model.warmUp(signal), signal, 'warm-up');
      if (options.verifyGolden) {
        const golden = await readGolden(dir, version);
        if (golden) await model.bounded(model.verifyGolden(golden, logger, signal), signal, 'golden check');
      }
    } catch (error) {
      await model.batcher.drain();
      await runner.release().catch(() => undefined);
      if (error instanceof ModelLoadError) throw error;
      throw new ModelLoadError(`version ${version} failed its checks: ${(error as Error).message}`, undefined, error);
    }
    logger.info('model loaded', { model: card.name, version, sha256, mode: options.pool ? 'worker' : 'inline' });
    return model;
  }

  /** `work`, or a ModelLoadError once `signal` (WARMUP_TIMEOUT_MS) fires. */
  private bounded<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new ModelLoadError(`${what} of version ${this.version} did not finish within ${this.options.warmupTimeoutMs} ms`));
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** One tensor per input, `n` rows each. */
  private feeds(buffers: TensorData[], n: number): Feeds {
    const feeds: Feeds = {};
    this.layout.specs.forEach((spec, i) => {
      feeds[spec.name] = { type: spec.type, data: buffers[i] as TensorData, dims: [n, ...spec.shape.slice(1)] };
    });
    return feeds;
  }

  /**
   * The pipeline for validated instances: prepare (if the predictor has it, under the shared concurrency
   * bound) → featurize every accepted instance into one buffer per input → one batcher entry → rows out.
   * Instances refused by prepare or featurize are answered in place.
   */
  async pass(inputs: readonly I[], how: PassOptions): Promise<RowResult<P>[]> {
    const { definition, artifacts } = this;
    const prepared = definition.prepare ? (this.preparedAlready(inputs) ?? (await this.prepare(inputs, how))) : (inputs as unknown as readonly (P | HttpError)[]);
    const results: RowResult<P>[] = new Array(inputs.length);
    const buffers = this.layout.allocate(inputs.length);
    const writer = new RowWriter(this.layout, buffers);
    const at: number[] = [];
    prepared.forEach((value, i) => {
      if (value instanceof HttpError) {
        results[i] = { ok: false, error: value };
        return;
      }
      const slot = at.length;
      try {
        definition.featurize(value, artifacts, writer.at(slot));
        at.push(i);
      } catch (error) {
        results[i] = { ok: false, error: refusal(error) };
        writer.clear(); // the next accepted instance reuses the slot
      }
    });
    const n = at.length;
    if (this.drift && n > 0) this.drift.observe(buffers[this.driftInput] as Float32Array, n, this.layout.sizes[this.driftInput] as number);
    const rows = n === inputs.length ? buffers : buffers.map((b, k) => b.subarray(0, (this.layout.sizes[k] as number) * n));
    const out = await this.batcher.submit(rows, n, how.admission, { bulkRunRows: how.bulkRunRows, signal: how.signal, timeoutMs: how.deadline?.remainingMs() });
    at.forEach((i, slot) => {
      results[i] = { ok: true, row: out.row(slot), prepared: prepared[i] as P };
    });
    return results;
  }

  /** `pass`, then each row through toOutput. */
  async infer(inputs: readonly I[], how: PassOptions): Promise<InstanceResult<O>[]> {
    const rows = await this.pass(inputs, how);
    return rows.map((r) => (r.ok ? { ok: true, output: this.definition.toOutput(r.row, r.prepared, this.artifacts) } : r));
  }

  /** Every instance's prepared value when none needs `prepare` (the predictor's `asPrepared`), else undefined. */
  private preparedAlready(inputs: readonly I[]): P[] | undefined {
    const asPrepared = this.definition.asPrepared;
    if (asPrepared === undefined) return undefined;
    const prepared: P[] = new Array(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const value = asPrepared(inputs[i] as I);
      if (value === undefined) return undefined;
      prepared[i] = value;
    }
    return prepared;
  }

  private async prepare(inputs: readonly I[], how: PassOptions): Promise<readonly (P | HttpError)[]> {
    const prepare = this.definition.prepare as NonNullable<PredictorDefinition<I, O, A, P>['prepare']>;
    const { prepareGate, metrics } = this.options;
    const { signal, deadline } = how;
    await prepareGate.acquire();
    const end = metrics?.prepareDuration.startTimer({ model: this.name });
    try {
      signal?.throwIfAborted();
      deadline?.throwIfPassed();
      const { artifacts, card } = this;
      // The signal is read through a getter: a deadline makes its AbortController only for a prepare that uses it.
      const prepared = await prepare(inputs, {
        artifacts,
        card,
        get signal() {
          return signal ?? deadline?.signal ?? NEVER;
        },
      });
      if (prepared.length !== inputs.length) throw new Error(`prepare returned ${prepared.length} entries for ${inputs.length} instances`);
      // Time ran out while preparing: answered as the queue's timeout would be.
      deadline?.throwIfPassed();
      return prepared;
    } finally {
      end?.();
      prepareGate.release();
    }
  }

  /** The warm-up instances through the whole pipeline, as one row and as a full batch: finite, valid outputs. */
  private async warmUp(signal: AbortSignal): Promise<void> {
    const { definition } = this;
    const given = definition.warmup ? await definition.warmup(this.artifacts, this.card) : definition.example === undefined ? [] : [definition.example];
    if (given.length === 0) throw new ModelLoadError(`predictor '${definition.name}' has neither warmup() nor an example to warm up with`);
    const max = this.options.batching.maxBatchSize;
    for (const n of [1, max]) {
      const inputs = Array.from({ length: n }, (_, i) => given[i % given.length] as I);
      const rows = await this.pass(inputs, { bulkRunRows: n, signal });
      for (const r of rows) {
        if (!r.ok) throw new ModelLoadError(`a warm-up instance was refused: ${r.error.message}`);
        for (const name of this.outputNames) {
          for (const v of r.row[name] ?? []) {
            if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`warm-up output '${name}' is ${v}`);
          }
        }
        definition.output.parse(definition.toOutput(r.row, r.prepared, this.artifacts));
      }
    }
  }

  /** The graph must reproduce every golden vector, element by element. */
  private async verifyGolden(golden: GoldenFile, logger: Logger, signal: AbortSignal): Promise<void> {
    const result = await this.compareGolden(golden, signal);
    if (result.failures.length > 0) {
      throw new ModelLoadError(`version ${this.version} does not reproduce its golden vectors`, {
        failures: result.failures.slice(0, 10),
        failed: result.failures.length,
        rows: result.rows,
      });
    }
    logger.info('golden vectors reproduced', { model: this.name, version: this.version, rows: result.rows, values: result.values, max_abs_diff: result.maxAbsDiff });
  }

  /** Golden inputs through the same pipeline as requests, compared with the file's outputs. */
  async compareGolden(golden: GoldenFile, signal?: AbortSignal) {
    const inputs = golden.rows.map((r) => this.definition.input.parse(r.input));
    const rows = await this.pass(inputs, { bulkRunRows: Math.max(1, inputs.length), signal });
    const served = rows.map((r, i) => {
      if (!r.ok) throw new ModelLoadError(`golden row ${i} was refused: ${r.error.message}`);
      return r.row;
    });
    return compareGolden(golden, served, this.outputNames);
  }

  /** Holds this version for one request (prepare may await while a reload lands); release exactly once. */
  lease(): () => void {
    this.leases++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.leases === 0) for (const wake of this.leaseWaiters.splice(0)) wake();
    };
  }

  /** Waits for every lease and every queued and running row, then frees the session. */
  async close(): Promise<void> {
    if (this.leases > 0) await new Promise<void>((resolve) => this.leaseWaiters.push(resolve));
    await this.batcher.drain();
    await this.runner.release();
  }
}
