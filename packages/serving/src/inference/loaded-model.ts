import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'winston';
import { ModelLoadError } from '../errors/model-load-error';
import type { ServingMetrics } from '../metrics/metrics';
import { DynamicBatcher } from './dynamic-batcher';
import { rowSize, type ModelCard, type TensorSpec } from './model-card';
import type { ModelRepository } from './model-repository';
import type { PredictorDefinition, RowOutputs } from './predictor';
import { InlineSessionRunner, type IoInfo, type SessionRunner, type SessionSettings } from './session-runner';
import type { WorkerPool } from './worker-pool';

export interface BatchingSettings {
  maxBatchSize: number;
  maxDelayMs: number;
  maxQueueRows: number;
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
  metrics: ServingMetrics | undefined;
  logger: Logger;
}

const ORT_TYPES: Record<TensorSpec['type'], string> = {
  float32: 'float32',
  float64: 'float64',
  int32: 'int32',
  int64: 'int64',
  bool: 'bool',
};

/** A card's tensor and the graph's agree on type and on every fixed dimension. */
function checkTensor(kind: string, spec: TensorSpec, info: IoInfo | undefined): string | undefined {
  if (!info) return `${kind} '${spec.name}' of the card is not in the graph`;
  if (info.type !== undefined && info.type !== ORT_TYPES[spec.type]) {
    return `${kind} '${spec.name}' is ${info.type} in the graph but ${spec.type} in the card`;
  }
  if (info.shape !== undefined && info.shape.length > 0) {
    if (info.shape.length !== spec.shape.length) {
      return `${kind} '${spec.name}' has rank ${info.shape.length} in the graph but ${spec.shape.length} in the card`;
    }
    for (let i = 0; i < spec.shape.length; i++) {
      const want = spec.shape[i] as number;
      const got = info.shape[i];
      if (want >= 0 && typeof got === 'number' && got >= 0 && got !== want) {
        return `${kind} '${spec.name}' dimension ${i} is ${got} in the graph but ${want} in the card`;
      }
    }
  }
  return undefined;
}

/** Splits a batch's output tensors into one RowOutputs per row. */
function splitRows(outputs: Awaited<ReturnType<SessionRunner['run']>>, names: readonly string[], n: number): RowOutputs[] {
  const rows: RowOutputs[] = Array.from({ length: n }, () => ({}));
  for (const name of names) {
    const out = outputs[name];
    if (!out) throw new Error(`model run returned no '${name}' output`);
    if (out.dims[0] !== n) throw new Error(`output '${name}' has ${out.dims[0]} rows for a batch of ${n}`);
    const width = out.data.length / n;
    for (let i = 0; i < n; i++) (rows[i] as RowOutputs)[name] = out.data.subarray(i * width, (i + 1) * width);
  }
  return rows;
}

export interface GoldenFile {
  tolerance?: number;
  rows: Array<{ input: unknown } & Record<string, unknown>>;
}

/**
 * One model version, loaded, checked against its card, warmed up and (if it ships golden vectors) proved to
 * reproduce them, with its own dynamic batcher. A hot reload builds a new LoadedModel beside the old one.
 */
export class LoadedModel<I, O, A> {
  readonly loadedAt = new Date();
  readonly batcher: DynamicBatcher<RowOutputs>;
  readonly rowSize: number;
  private readonly outputNames: string[];

  private constructor(
    readonly definition: PredictorDefinition<I, O, A>,
    readonly dir: string,
    readonly card: ModelCard,
    readonly sha256: string,
    readonly artifacts: A,
    private readonly runner: SessionRunner,
    batching: BatchingSettings,
    concurrency: number,
    metrics: ServingMetrics | undefined,
  ) {
    const input = card.inputs[0] as TensorSpec;
    this.rowSize = rowSize(input);
    this.outputNames = card.outputs.map((o) => o.name);
    const labels = { model: card.name, version: card.version };
    this.batcher = new DynamicBatcher<RowOutputs>({
      ...batching,
      concurrency,
      rowSize: this.rowSize,
      run: async (rows, n) => {
        const end = metrics?.inferenceDuration.startTimer(labels);
        try {
          const result = await this.runRows(rows, n);
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
      onQueueDepth: (rows) => metrics?.queueDepth.set({ model: card.name }, rows),
    });
  }

  get name(): string {
    return this.card.name;
  }

  get version(): string {
    return this.card.version;
  }

  static async load<I, O, A>(definition: PredictorDefinition<I, O, A>, options: LoadOptions): Promise<LoadedModel<I, O, A>> {
    const { repository, version, logger } = options;
    const { dir, card, onnx, sha256 } = await repository.open(version);
    if (card.name !== definition.name) {
      throw new ModelLoadError(`model card names '${card.name}', this service serves '${definition.name}'`);
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
        ? await options.pool.load(`${card.name}@${version}:${sha256}`, onnx, options.session)
        : await InlineSessionRunner.create(onnx, options.session);
    } catch (error) {
      throw new ModelLoadError(`onnxruntime cannot load version ${version}: ${(error as Error).message}`, undefined, error);
    }
    const concurrency = options.pool ? options.pool.size : 1;
    const model = new LoadedModel(definition, dir, card, sha256, artifacts, runner, options.batching, concurrency, options.metrics);
    try {
      model.checkSignature();
      await model.warmUp(options.batching.maxBatchSize);
      if (options.verifyGolden) await model.verifyGolden(logger);
    } catch (error) {
      await runner.release().catch(() => undefined);
      if (error instanceof ModelLoadError) throw error;
      throw new ModelLoadError(`version ${version} failed its checks: ${(error as Error).message}`, undefined, error);
    }
    logger.info('model loaded', { model: card.name, version, sha256, mode: options.pool ? 'worker' : 'inline' });
    return model;
  }

  private checkSignature(): void {
    const problems: string[] = [];
    const graphInputs = this.runner.inputs;
    if (graphInputs.length !== this.card.inputs.length) {
      problems.push(`graph has inputs [${graphInputs.map((i) => i.name).join(', ')}], card has [${this.card.inputs.map((i) => i.name).join(', ')}]`);
    }
    for (const spec of this.card.inputs) {
      const p = checkTensor('input', spec, graphInputs.find((i) => i.name === spec.name));
      if (p) problems.push(p);
    }
    if (this.card.inputs[0]?.type !== 'float32') problems.push('the input tensor must be float32');
    for (const spec of this.card.outputs) {
      const p = checkTensor('output', spec, this.runner.outputs.find((o) => o.name === spec.name));
      if (p) problems.push(p);
    }
    if (problems.length > 0) {
      throw new ModelLoadError(`model version ${this.version} does not match its card`, { problems });
    }
  }

  /** Runs `n` rows straight through the session (no batcher, no metrics). */
  private async runRows(rows: Float32Array, n: number): Promise<RowOutputs[]> {
    const input = this.card.inputs[0] as TensorSpec;
    const dims = [n, ...input.shape.slice(1).map((d) => (d < 0 ? 1 : d))];
    const outputs = await this.runner.run(input.name, rows, dims);
    return splitRows(outputs, this.outputNames, n);
  }

  /** Featurizes validated inputs into one buffer. */
  featurizeMany(inputs: readonly I[]): Float32Array {
    const rows = new Float32Array(inputs.length * this.rowSize);
    inputs.forEach((input, i) => this.definition.featurize(input, this.artifacts, rows, i * this.rowSize));
    return rows;
  }

  /** A run of one row and one of a full batch, both mapped through toOutput: shapes right, values finite. */
  private async warmUp(maxBatchSize: number): Promise<void> {
    for (const n of [1, maxBatchSize]) {
      const inputs = Array.from({ length: n }, () => this.definition.example);
      const rows = await this.runRows(this.featurizeMany(inputs), n);
      for (const row of rows) {
        for (const name of this.outputNames) {
          for (const v of row[name] ?? []) {
            if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`warm-up output '${name}' is ${v}`);
          }
        }
        this.definition.output.parse(this.definition.toOutput(row, this.definition.example, this.artifacts));
      }
    }
  }

  /** If the version ships golden.json, the graph must reproduce every vector in it. */
  private async verifyGolden(logger: Logger): Promise<void> {
    let golden: GoldenFile;
    try {
      golden = JSON.parse(await readFile(path.join(this.dir, 'golden.json'), 'utf8')) as GoldenFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new ModelLoadError(`golden.json of version ${this.version} cannot be read`, undefined, error);
    }
    const result = await this.compareGolden(golden);
    if (result.failures.length > 0) {
      throw new ModelLoadError(`version ${this.version} does not reproduce its golden vectors`, {
        failures: result.failures.slice(0, 10),
        failed: result.failures.length,
        rows: result.rows,
      });
    }
    logger.info('golden vectors reproduced', { model: this.name, version: this.version, rows: result.rows, max_abs_diff: result.maxAbsDiff });
  }

  /**
   * Compares the graph with golden vectors: for each row, every card output that the row names must be within
   * `tolerance` × max(1, |expected|).
   */
  async compareGolden(golden: GoldenFile) {
    const tolerance = golden.tolerance ?? 1e-5;
    const failures: { row: number; output: string; expected: number; actual: number }[] = [];
    let maxAbsDiff = 0;
    const inputs = golden.rows.map((r) => this.definition.input.parse(r.input));
    const rows = await this.runRows(this.featurizeMany(inputs), inputs.length);
    rows.forEach((row, i) => {
      for (const name of this.outputNames) {
        const expected = golden.rows[i]?.[name];
        if (typeof expected !== 'number') continue;
        const actual = Number((row[name] as ArrayLike<number>)[0]);
        const diff = Math.abs(actual - expected);
        maxAbsDiff = Math.max(maxAbsDiff, diff);
        if (!(diff <= tolerance * Math.max(1, Math.abs(expected)))) failures.push({ row: i, output: name, expected, actual });
      }
    });
    return { rows: rows.length, failures, maxAbsDiff };
  }

  /** Waits for every queued and running row, then frees the session. */
  async close(): Promise<void> {
    await this.batcher.drain();
    await this.runner.release();
  }
}
