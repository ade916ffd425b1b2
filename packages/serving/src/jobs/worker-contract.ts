import type { PredictorDefinition } from '../inference/predictor';
import type { InstanceResult } from '../inference/loaded-model';

/**
 * What a service gives the batch worker tier (services/batch-worker) beside its predictor: job sources and its
 * own resources. Here, in the core, because both sides implement it: the worker calls it and a service
 * (iit-risk's `facility` source and audit hook) provides it, without either importing the other.
 */

/** Which job a source is reading for (a source may keep per-job state, e.g. a frozen roster). */
export interface SourceContext {
  jobId: string;
  /** The job's results TTL: per-job state should live as long. */
  ttlSeconds: number;
}

/**
 * A service-defined job input (`{kind: 'source', source, params}`): images on a shared volume, every patient
 * of a facility. Random access by row range, so a job taken over after a crash resumes at its next chunk:
 * row n must be the same instance on every attempt of a job.
 */
export interface JobSource {
  /** How many instances the source holds for these params (validate params here: throw a 4xx HttpError to refuse them). */
  count(params: Record<string, unknown>, ctx: SourceContext): Promise<number>;
  /**
   * Instances [start, end) as the predictor's input takes them. An entry may be an HttpError (4xx) instead:
   * that row is answered with it in the results (a file that is missing or refused); throw to fail the read
   * (the job is retried).
   */
  read(params: Record<string, unknown>, start: number, end: number, ctx: SourceContext): Promise<unknown[]>;
}

/** One predicted chunk of a job, before its results are stored. */
export interface PredictedChunk<O = unknown> {
  jobId: string;
  /** Chunk number (stable across attempts: the job's chunk_rows are fixed). */
  chunk: number;
  /** Index in the job of the chunk's first row. */
  base: number;
  /** The chunk's input rows, as parsed. */
  rows: readonly unknown[];
  results: readonly InstanceResult<O>[];
  model: { name: string; version: string };
  /** The job's `submitted_by` (an API key id), e.g. an audit record's key id. */
  submittedBy: string | undefined;
}

/** A queue's own resources in the worker: they replace the static predictor/sources and live as long as the tier. */
export interface QueueParts {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each service's own input/output types
  predictor?: PredictorDefinition<any, any, any, any>;
  sources?: Readonly<Record<string, JobSource>>;
  /**
   * After a chunk is predicted, before its results are written (an audit trail): may answer extra output
   * fields per row. Throwing fails the chunk, and the job attempt (retried like any transient failure).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any service's output
  afterChunk?(chunk: PredictedChunk<any>): Promise<(Record<string, unknown> | undefined)[] | void>;
  start(): void | Promise<void>;
  stop(): Promise<void>;
}
