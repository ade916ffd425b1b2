import type { z } from 'zod';
import type { HttpError } from '../errors/http-error';
import type { ModelCard } from './model-card';
import type { RowWriter } from './row-writer';
import type { OutputData } from './session-runner';

/** One row's slice of every output tensor, by output name (a whole vector per output: `[F]` of `[N, F]`). */
export type RowOutputs = Record<string, OutputData>;

export interface PrepareContext<A> {
  artifacts: A;
  card: ModelCard;
  /** Aborts when the request times out or the caller gives up: pass it to I/O. */
  signal: AbortSignal;
}

/**
 * Everything that makes a model a service, with no HTTP in it: the batch worker tier imports the same object.
 * `featurize` is the one feature function used for serving and for writing the training matrix.
 *
 * The stages of one request: `input` (zod) validates each instance → `prepare` (optional, asynchronous,
 * batched: decode images, look features up in a store) → `featurize` writes one row of every model input →
 * the dynamic batcher runs rows together → `toOutput` maps a row's outputs to the response.
 */
export interface PredictorDefinition<I, O, A, P = I> {
  /** Model name; must equal the card's `name`. Also the metrics label. */
  name: string;
  description: string;
  /** One instance of a request (zod: the public contract). */
  input: z.ZodType<I>;
  /** One prediction, without the `model` field the service adds. */
  output: z.ZodType<O>;
  /** A valid instance for the OpenAPI document (and the default warm-up). */
  example?: I;
  /**
   * Instances the model is warmed up with before it serves (through prepare, featurize, a one-row and a
   * full-batch run, and toOutput). Defaults to `[example]`; an image service generates an image here.
   */
  warmup?(artifacts: A, card: ModelCard): readonly I[] | Promise<readonly I[]>;
  /**
   * Input or output fields that are personal or health data (`['patient_id', 'features']`): the service's
   * logger writes them as `[REDACTED]` at any depth and the prediction log records inputs and outputs without them.
   */
  redactFields?: readonly string[];
  /** Most instances one batch request takes (the queue must hold at least this many rows). */
  maxBatchInstances: number;
  /** The versioned model directory used when MODEL_DIR is not set. */
  defaultModelDir: string;
  /** Reads what the version directory carries besides the graph (e.g. feature tables). */
  loadArtifacts(dir: string, card: ModelCard): Promise<A>;
  /**
   * Asynchronous, batched preparation of validated instances, called once per request (or bulk piece) with
   * all its instances, so a store lookup is one round trip. Returns one entry per instance, in order: the
   * prepared value, or the HttpError refusing that instance (4xx bad input, 503 a dependency unavailable).
   * Throwing fails every instance. Runs under PREPARE_CONCURRENCY; absent, instances go straight to featurize.
   */
  prepare?(inputs: readonly I[], context: PrepareContext<A>): Promise<(P | HttpError)[]>;
  /**
   * With `prepare`: an instance that needs no preparation, as its prepared value (iit-risk's inline
   * `features`), or undefined when it needs `prepare`. A request (or bulk piece) whose every instance has one
   * skips the prepare stage: no PREPARE_CONCURRENCY slot, no `model_prepare_duration_seconds` observation, no
   * await; a request with any other instance goes through `prepare` whole. Must give what `prepare` would.
   */
  asPrepared?(input: I): P | undefined;
  /** Writes one row through `row` (one view per model input); throws an HttpError 4xx to refuse it. */
  featurize(input: P, artifacts: A, row: RowWriter): void;
  /** Maps one row of model outputs to the response. */
  toOutput(row: RowOutputs, input: P, artifacts: A): O;
}

/** Identity helper that infers the type parameters of a predictor. */
export function definePredictor<I, O, A, P = I>(definition: PredictorDefinition<I, O, A, P>): PredictorDefinition<I, O, A, P> {
  return definition;
}

export type AnyPredictor = PredictorDefinition<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
