export { type PredictionLog, type PredictionLogStore, type PredictionLogEntry, type StoredPrediction, storedPredictionSchema, serializeEntry } from './prediction-log';
export { RedisPredictionLog, type RedisPredictionLogOptions } from './redis-prediction-log';
export { createPredictionLog, type PredictionLogConfig, type PredictionLogParts } from './create-prediction-log';
export { predictionLogRoute } from './prediction-log-route';
export { BoundedBuffer } from './bounded-buffer';
