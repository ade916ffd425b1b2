import { flightDelayPredictor } from '@predict/flight-delay/predictor';
import { iitRiskPredictor } from '@predict/iit-risk/predictor';
import { QUEUES, type QueueName } from '@predict/jobs';
import type { PredictorDefinition } from '@predict/serving';
import { taxiEtaPredictor } from '@predict/taxi-eta/predictor';
import type { JobSource } from './job-source';

/** What the worker runs for one queue: the service's own predictor object (the one its HTTP service runs) and any sources it defines. */
export interface QueueService {
  queue: QueueName;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each service's own input/output types
  predictor: PredictorDefinition<any, any, any, any>;
  /** Service-defined inputs (`{kind: 'source', source: <name>}`). */
  sources?: Readonly<Record<string, JobSource>>;
}

/** Every service the worker tier knows. A new service plugs in with one line here (and its queue name in @predict/jobs). */
export const SERVICES: readonly QueueService[] = [
  { queue: QUEUES.flightDelay, predictor: flightDelayPredictor },
  { queue: QUEUES.taxiEta, predictor: taxiEtaPredictor },
  // Without its feature store here, instances carry `features` inline; a `patient_id` row is answered with its error.
  { queue: QUEUES.iitRisk, predictor: iitRiskPredictor },
];
