export { createJobs, type JobsParts, type JobsConfig } from './create-jobs';
export { jobRoutes, submitSourceJob } from './job-routes';
export { JsonInstancesSplitter, NdjsonSplitter, BodyFormatError } from './instance-stream';
export { jobStatusSchema, jobSubmittedSchema } from './job-schemas';
export type { JobSource, PredictedChunk, QueueParts, SourceContext } from './worker-contract';
