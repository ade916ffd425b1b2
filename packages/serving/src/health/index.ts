export { healthHandlers, type HealthSource, type ReadinessCheck } from './health';
