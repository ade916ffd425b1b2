export { modelCardSchema, rowSize, type ModelCard, type TensorSpec } from './model-card';
export { ModelRepository } from './model-repository';
export { DynamicBatcher, type BatcherOptions } from './dynamic-batcher';
export { InlineSessionRunner, sessionOptions, type SessionRunner, type SessionSettings, type RunOutputs, type OutputData } from './session-runner';
export { WorkerPool } from './worker-pool';
export { LoadedModel, type BatchingSettings, type GoldenFile } from './loaded-model';
export { definePredictor, type PredictorDefinition, type RowOutputs, type AnyPredictor } from './predictor';
export { PredictorRuntime, resolveThreads, type RuntimeOptions, type ModelRef, type InstanceResult } from './predictor-runtime';
