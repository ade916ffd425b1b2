export { ServiceState } from './service-state';
export { registerShutdown, closeServer, type ShutdownStep, type ShutdownOptions } from './shutdown';
export { httpShutdownSteps, type HttpShutdownOptions } from './http-shutdown';
