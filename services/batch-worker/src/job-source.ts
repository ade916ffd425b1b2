/** Which job a source is reading for (a source may keep per-job state, e.g. a frozen roster). */
export interface SourceContext {
  jobId: string;
  /** The job's results TTL: per-job state should live as long. */
  ttlSeconds: number;
}

/**
 * A service-defined job input (`{kind: 'source', source, params}`): images on a shared volume, every patient
 * of a facility. Random access by row range, so a job taken over after a crash resumes at its next chunk:
 * row n must be the same instance on every attempt of a job.
 */
export interface JobSource {
  /** How many instances the source holds for these params (validate params here: throw a 4xx HttpError to refuse them). */
  count(params: Record<string, unknown>, ctx: SourceContext): Promise<number>;
  /**
   * Instances [start, end) as the predictor's input takes them. An entry may be an HttpError (4xx) instead:
   * that row is answered with it in the results (a file that is missing or refused); throw to fail the read
   * (the job is retried).
   */
  read(params: Record<string, unknown>, start: number, end: number, ctx: SourceContext): Promise<unknown[]>;
}
