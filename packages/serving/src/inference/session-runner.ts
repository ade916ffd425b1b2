import * as ort from 'onnxruntime-node';
import type { TensorData, TensorType } from './tensor';

/** What a graph declares for one input or output. `shape` entries are numbers or symbolic names. */
export interface IoInfo {
  name: string;
  type: string | undefined;
  shape: readonly (number | string)[] | undefined;
}

export type OutputData = TensorData;

/** One input of a run: its element type, values (row-major) and dimensions. */
export interface Feed {
  type: TensorType;
  data: TensorData;
  dims: readonly number[];
}

export type Feeds = Record<string, Feed>;

export interface RunOutputs {
  [name: string]: { data: OutputData; dims: readonly number[] };
}

/** One loaded ONNX graph that can be run, here or on a worker thread. */
export interface SessionRunner {
  readonly inputs: readonly IoInfo[];
  readonly outputs: readonly IoInfo[];
  run(feeds: Feeds): Promise<RunOutputs>;
  release(): Promise<void>;
}

export interface SessionSettings {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  allowSpinning: boolean;
}

/** onnxruntime session options from our settings; idle thread spinning is off unless asked for. */
export function sessionOptions(settings: SessionSettings): ort.InferenceSession.SessionOptions {
  const spin = settings.allowSpinning ? '1' : '0';
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: settings.interOpNumThreads > 1 ? 'parallel' : 'sequential',
    intraOpNumThreads: settings.intraOpNumThreads,
    interOpNumThreads: settings.interOpNumThreads,
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
}

/** One ort.Tensor per input. */
export function toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, feed] of Object.entries(feeds)) out[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
  return out;
}

export function ioInfo(meta: readonly ort.InferenceSession.ValueMetadata[]): IoInfo[] {
  return meta.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: undefined, shape: undefined },
  );
}

/**
 * Runs the session on the JavaScript thread. onnxruntime-node only defers `run` by setImmediate and then
 * computes synchronously, so every other request waits while it runs: right for sub-millisecond graphs,
 * wrong for long ones (use the worker pool there).
 */
export class InlineSessionRunner implements SessionRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputs: readonly IoInfo[],
    readonly outputs: readonly IoInfo[],
  ) {}

  static async create(model: Uint8Array, settings: SessionSettings): Promise<InlineSessionRunner> {
    const session = await ort.InferenceSession.create(model, sessionOptions(settings));
    return new InlineSessionRunner(session, ioInfo(session.inputMetadata), ioInfo(session.outputMetadata));
  }

  async run(feeds: Feeds): Promise<RunOutputs> {
    const result = await this.session.run(toOrtFeeds(feeds));
    const out: RunOutputs = {};
    for (const [name, tensor] of Object.entries(result)) {
      out[name] = { data: tensor.data as OutputData, dims: tensor.dims };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
