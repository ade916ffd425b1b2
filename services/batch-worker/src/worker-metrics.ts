import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The worker tier's metrics, on the process's one registry (beside the core's model metrics). */
export function createWorkerMetrics(registry: Registry, jobCounts: () => Promise<{ queue: string; counts: Record<string, number> }[]>) {
  const states = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;
  return {
    queueJobs: new Gauge({
      name: 'batch_queue_jobs',
      help: 'Jobs per queue and state (read from Redis at scrape time)',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        try {
          for (const { queue, counts } of await jobCounts()) for (const s of states) this.set({ queue, state: s }, counts[s] ?? 0);
        } catch {
          // Redis away: the gauges keep their last values; readiness reports the outage.
        }
      },
    }),
    jobDuration: new Histogram({
      name: 'batch_job_duration_seconds',
      help: 'Wall time of one processing attempt of a job, by outcome',
      labelNames: ['queue', 'outcome'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    rows: new Counter({ name: 'batch_rows_processed_total', help: 'Instances answered by jobs: ok or failed (a row error)', labelNames: ['queue', 'outcome'], registers: [registry] }),
    failures: new Counter({ name: 'batch_job_failures_total', help: 'Failed job attempts by reason', labelNames: ['queue', 'reason'], registers: [registry] }),
    lockRenewalFailures: new Counter({ name: 'batch_lock_renewal_failures_total', help: 'Job locks this process failed to renew', labelNames: ['queue'], registers: [registry] }),
    stalled: new Counter({ name: 'batch_jobs_stalled_total', help: 'Jobs this process found stalled (their worker lost the lock) and moved back to wait', labelNames: ['queue'], registers: [registry] }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
