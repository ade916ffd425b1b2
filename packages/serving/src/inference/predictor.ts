import type { z } from 'zod';
import type { ModelCard } from './model-card';
import type { OutputData } from './session-runner';

/** One row's slice of every output tensor, by output name. */
export type RowOutputs = Record<string, OutputData>;

/**
 * Everything that makes a model a service, with no HTTP in it: the batch worker tier imports the same object.
 * `featurize` is the one feature function used for serving and for writing the training matrix.
 */
export interface PredictorDefinition<I, O, A> {
  /** Model name; must equal the card's `name`. Also the metrics label. */
  name: string;
  description: string;
  /** One instance of a request (zod: the public contract). */
  input: z.ZodType<I>;
  /** One prediction, without the `model` field the service adds. */
  output: z.ZodType<O>;
  /** A valid instance: the OpenAPI example and the warm-up row. */
  example: I;
  /** Most instances `POST /v1/predict/batch` takes. */
  maxBatchInstances: number;
  /** The versioned model directory used when MODEL_DIR is not set. */
  defaultModelDir: string;
  /** Reads what the version directory carries besides the graph (e.g. feature tables). */
  loadArtifacts(dir: string, card: ModelCard): Promise<A>;
  /** Writes the row for `input` at `out[offset..]`; throws UnprocessableEntityError for a domain rejection. */
  featurize(input: I, artifacts: A, out: Float32Array, offset: number): void;
  /** Maps one row of model outputs to the response. */
  toOutput(row: RowOutputs, input: I, artifacts: A): O;
}

/** Identity helper that infers the type parameters of a predictor. */
export function definePredictor<I, O, A>(definition: PredictorDefinition<I, O, A>): PredictorDefinition<I, O, A> {
  return definition;
}

export type AnyPredictor = PredictorDefinition<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
