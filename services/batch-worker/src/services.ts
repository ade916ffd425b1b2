import { flightDelayPredictor } from '@predict/flight-delay/predictor';
import { iitRiskBatchParts } from '@predict/iit-risk/batch';
import { iitRiskPredictor } from '@predict/iit-risk/predictor';
import { QUEUES, type QueueName } from '@predict/jobs';
import type { InstanceResult, Logger, PredictorDefinition, ServingMetrics } from '@predict/serving';
import { taxiEtaPredictor } from '@predict/taxi-eta/predictor';
import type { JobSource } from './job-source';

/** What the worker runs for one queue: the service's own predictor object (the one its HTTP service runs) and any sources it defines. */
export interface QueueService {
  queue: QueueName;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each service's own input/output types
  predictor: PredictorDefinition<any, any, any, any>;
  /** Service-defined inputs (`{kind: 'source', source: <name>}`). */
  sources?: Readonly<Record<string, JobSource>>;
  /**
   * The job data and results are health data: Bull-board shows job data without inline instances and return
   * values without row errors (board-redaction.ts).
   */
  sensitive?: boolean;
  /** What the service owns in the worker (a Redis connection…), built once per process when its queue runs. */
  parts?(deps: { logger: Logger; metrics: ServingMetrics }): QueueParts;
}

/** One predicted chunk, before its results are stored. */
export interface PredictedChunk {
  jobId: string;
  chunk: number;
  /** Index in the job of the chunk's first row. */
  base: number;
  rows: readonly unknown[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any service's output
  results: readonly InstanceResult<any>[];
  model: { name: string; version: string };
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
  afterChunk?(chunk: PredictedChunk): Promise<(Record<string, unknown> | undefined)[] | void>;
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

/** Every service the worker tier knows. A new service plugs in with one line here (and its queue name in @predict/jobs). */
export const SERVICES: readonly QueueService[] = [
  { queue: QUEUES.flightDelay, predictor: flightDelayPredictor },
  { queue: QUEUES.taxiEta, predictor: taxiEtaPredictor },
  // Its parts: the feature store (`{patient_id}` rows, the `facility` source) and the audit log, on their own Redis.
  { queue: QUEUES.iitRisk, predictor: iitRiskPredictor, sensitive: true, parts: (deps) => iitRiskBatchParts(deps) },
];
