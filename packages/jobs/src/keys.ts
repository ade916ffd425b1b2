/**
 * Where a job's data lives besides BullMQ's own keys (all under `<prefix>:<queue>:`, so one hash slot when
 * the prefix is hash-tagged):
 *
 * - `<prefix>:<queue>:input:<jobId>:<n>`    chunk n of a streamed input: NDJSON, one instance per line
 * - `<prefix>:<queue>:results:<jobId>:<n>`  chunk n of the results: NDJSON, one line per instance with its `index`
 * - `<prefix>:<queue>:results:<jobId>:parts`    hash: chunk n → that chunk's counts and first errors (resume point)
 * - `<prefix>:<queue>:results:<jobId>:summary`  the job summary (JSON), written when the job completes
 * - `<prefix>:<queue>:results:<jobId>:cancel`   set by a cancel request; the worker stops before the next chunk
 *
 * Results and summary expire after the job's `results_ttl_seconds`.
 */
export function inputChunkKey(prefix: string, queue: string, jobId: string, chunk: number): string {
  return `${inputBaseKey(prefix, queue, jobId)}:${chunk}`;
}

export function inputBaseKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:input:${jobId}`;
}

export function resultsBaseKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:results:${jobId}`;
}

export function resultChunkKey(prefix: string, queue: string, jobId: string, chunk: number): string {
  return `${resultsBaseKey(prefix, queue, jobId)}:${chunk}`;
}

export const resultPartsKey = (prefix: string, queue: string, jobId: string) => `${resultsBaseKey(prefix, queue, jobId)}:parts`;
export const summaryKey = (prefix: string, queue: string, jobId: string) => `${resultsBaseKey(prefix, queue, jobId)}:summary`;
export const cancelKey = (prefix: string, queue: string, jobId: string) => `${resultsBaseKey(prefix, queue, jobId)}:cancel`;
