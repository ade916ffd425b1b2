/**
 * One BullMQ queue per prediction service, named after the service.
 *
 * NEVER RENAME a queue: the name is part of every Redis key of its jobs and results, and of what producers in
 * other languages send to. A renamed queue strands the jobs waiting in the old one. Add new services; retire
 * old names only once their queues are empty.
 */
export const QUEUES = {
  flightDelay: 'flight-delay',
  taxiEta: 'taxi-eta',
  vehicleClassifier: 'vehicle-classifier',
  iitRisk: 'iit-risk',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const QUEUE_NAMES: readonly QueueName[] = Object.values(QUEUES);

/**
 * BullMQ's key prefix (its `prefix` option) and ours: every key of a job, its input and its results starts with
 * `<prefix>:<queue>:`. The default is hash-tagged: on Redis Cluster `{predict}` puts every key in one slot, which
 * BullMQ's multi-key scripts and our MULTI writes need. One prefix per environment sharing a Redis.
 */
export const DEFAULT_QUEUE_PREFIX = '{predict}';

/** The BullMQ job name every producer uses. */
export const JOB_NAME = 'predict';

export function isQueueName(name: string): name is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}
