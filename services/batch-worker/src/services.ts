import { flightDelayPredictor } from '@predict/flight-delay/predictor';
import { iitRiskBatchParts } from '@predict/iit-risk/batch';
import { iitRiskPredictor } from '@predict/iit-risk/predictor';
import { QUEUES, type QueueName } from '@predict/jobs';
import type { JobSource, Logger, PredictorDefinition, QueueParts, ServingMetrics } from '@predict/serving';
import { taxiEtaPredictor } from '@predict/taxi-eta/predictor';
import { IMAGE_JOB_CHUNK_ROWS } from '@predict/vehicle-classifier/config';
import { vehiclePredictor } from '@predict/vehicle-classifier/predictor';
import type { Config } from './config';
import { imageSource } from './image-source';

/** What the worker runs for one queue: the service's own predictor object (the one its HTTP service runs) and any sources it defines. */
export interface QueueService {
  queue: QueueName;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each service's own input/output types
  predictor: PredictorDefinition<any, any, any, any>;
  /** Service-defined inputs (`{kind: 'source', source: <name>}`). */
  sources?: Readonly<Record<string, JobSource>>;
  /**
   * Most rows per chunk of an inline or source input, and per model run, whatever the job asks: what bounds
   * the worker's memory for large rows (images). A constant, never a variable: every worker must cut a job
   * the same way, so one that takes it over resumes on the same chunk boundaries.
   */
  maxChunkRows?: number;
  /**
   * The job data and results are health data: Bull-board shows job data without inline instances and return
   * values without row errors (board-redaction.ts).
   */
  sensitive?: boolean;
  /** What the service owns in the worker (a Redis connection…), built once per process when its queue runs. */
  parts?(deps: { logger: Logger; metrics: ServingMetrics }): QueueParts;
}

export type ServicesConfig = Pick<Config, 'MAX_IMAGE_BYTES' | 'MAX_IMAGE_PIXELS' | 'JOBS_IMAGE_ROOT' | 'JOBS_IMAGE_MAX_PATHS'>;

/** Every service the worker tier knows. A new service plugs in with one line here (and its queue name in @predict/jobs). */
export function createServices(config: ServicesConfig): readonly QueueService[] {
  return [
    { queue: QUEUES.flightDelay, predictor: flightDelayPredictor },
    { queue: QUEUES.taxiEta, predictor: taxiEtaPredictor },
    // Its parts: the feature store (`{patient_id}` rows, the `facility` source) and the audit log, on their own Redis.
    { queue: QUEUES.iitRisk, predictor: iitRiskPredictor, sensitive: true, parts: (deps) => iitRiskBatchParts(deps) },
    // The service's predictor with the service's own limits (same variables); `images` reads files under JOBS_IMAGE_ROOT.
    {
      queue: QUEUES.vehicleClassifier,
      predictor: vehiclePredictor({ maxBytes: config.MAX_IMAGE_BYTES, maxPixels: config.MAX_IMAGE_PIXELS }),
      sources: { images: imageSource({ root: config.JOBS_IMAGE_ROOT, maxBytes: config.MAX_IMAGE_BYTES, maxPaths: config.JOBS_IMAGE_MAX_PATHS }) },
      maxChunkRows: IMAGE_JOB_CHUNK_ROWS,
    },
  ];
}
