export * from './queues';
export * from './keys';
export * from './schemas';
export { ChunkWriter, type ChunkWriterOptions } from './chunk-writer';
export { JobProducer, JobFailedError, isValidJobId, type ProducerOptions, type EnqueueOptions, type JobStatus, type JobState } from './producer';
