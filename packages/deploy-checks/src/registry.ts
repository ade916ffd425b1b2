import { loadServices, REPO_ROOT, type ServiceEntry } from '@predict/stack';

export { REPO_ROOT };
/** One entry of infra/services.json, read and checked by the one loader (@predict/stack's). */
export type Deployable = ServiceEntry;
/** Every deployable of infra/services.json, checked (names and ports unique). */
export const loadRegistry = loadServices;

/** FLIGHT_DELAY for flight-delay: the prefix of a service's own variables in .env. */
export const envPrefix = (s: Deployable) => s.name.toUpperCase().replace(/-/g, '_');

/** Sizing per kind; the same figures in compose (limits) and Kubernetes (requests/limits, HPA bounds). */
export const SIZING = {
  prediction: { replicas: 2, cpus: '1.0', memory: '1g', k8sMemory: '1Gi', cpuRequest: '500m', memoryRequest: '512Mi', maxReplicas: 10 },
  worker: { replicas: 2, cpus: '1.0', memory: '2g', k8sMemory: '2Gi', cpuRequest: '500m', memoryRequest: '1Gi', maxReplicas: 6 },
} as const;

/** SHUTDOWN_GRACE_MS + SHUTDOWN_TIMEOUT_MS as set in compose and Kubernetes, plus margin: the stop grace. */
export const SHUTDOWN = { graceMs: 5_000, timeoutMs: 20_000, stopGraceSeconds: 35 } as const;
