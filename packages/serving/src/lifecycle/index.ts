export { ServiceState } from './service-state';
export { registerShutdown, exitOnProcessErrors, closeServer, type ShutdownStep, type ShutdownOptions } from './shutdown';
export { httpShutdownSteps, type HttpShutdownOptions } from './http-shutdown';
export { runClusterPrimary, reportWorkerReady, WORKER_READY, type ClusterPrimaryOptions } from './cluster';
