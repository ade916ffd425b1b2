export { DriftMonitor, type DriftSettings, type DriftSnapshot } from './drift-monitor';
export { driftReferenceSchema, psi, type DriftReference } from './drift-reference';
