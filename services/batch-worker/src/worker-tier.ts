import path from 'node:path';
import { JOB_NAME, type JobSummary } from '@predict/jobs';
import { PredictorRuntime, createRedis, runtimeOptions, type Logger, type QueueParts, type RedisConnection, type ServingMetrics } from '@predict/serving';
import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import type { Config } from './config';
import { JobRefusedError, createProcessor } from './processor';
import type { QueueService } from './services';
import { createWorkerMetrics, type WorkerMetrics } from './worker-metrics';

interface QueueWorker {
  service: QueueService;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any service's predictor
  runtime: PredictorRuntime<any, any, any, any>;
  connection: RedisConnection;
  queue: Queue;
  /** The service's own resources here (QueueService.parts), started and stopped with the tier. */
  parts?: QueueParts;
  worker?: Worker;
}

export interface WorkerTierDeps {
  config: Config & { REDIS_URL: string };
  services: readonly QueueService[];
  logger: Logger;
  metrics: ServingMetrics;
}

/**
 * One BullMQ Worker per configured queue, each running its service's predictor (loaded once here, inference on
 * worker threads in INFERENCE_MODE=worker), sharing one data connection for inputs and results. Any number of
 * processes or replicas may run it on the same queues.
 */
export class WorkerTier {
  readonly queues: QueueWorker[];
  /** Inputs and results: waits through outages (a job in progress resumes when Redis returns). */
  readonly data: RedisConnection;
  /** Queue inspection (counts, Bull-board): fails fast. */
  readonly inspect: RedisConnection;
  /** The tier's own metrics (queue gauges, job durations, rows, failures, lock renewals, stalls) on the process registry. */
  readonly workerMetrics: WorkerMetrics;
  private stopping = false;
  private started = false;

  constructor(private readonly deps: WorkerTierDeps) {
    const { config, logger } = deps;
    this.workerMetrics = createWorkerMetrics(deps.metrics.registry, () => this.jobCounts());
    const redisConfig = { REDIS_URL: config.REDIS_URL, REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX };
    const waiting = { maxRetriesPerRequest: null, enableOfflineQueue: true } as const;
    this.data = createRedis(redisConfig, logger, { role: 'worker-data', service: 'batch-worker', ...waiting });
    this.inspect = createRedis(redisConfig, logger, { role: 'queue', service: 'batch-worker' });
    const wanted = config.WORKER_QUEUES;
    const unknown = wanted.filter((q) => !deps.services.some((s) => s.queue === q));
    if (unknown.length > 0) throw new Error(`WORKER_QUEUES names unknown queues: ${unknown.join(', ')} (known: ${deps.services.map((s) => s.queue).join(', ')})`);
    this.queues = deps.services
      .filter((s) => wanted.length === 0 || wanted.includes(s.queue))
      .map((service) => {
        const parts = service.parts?.({ logger, metrics: deps.metrics });
        const options = runtimeOptions(config, logger, deps.metrics);
        // A queue of large rows (images) runs its model on at most maxChunkRows rows at a time: decoded inputs stay bounded.
        const bulkRunRows = Math.min(options.bulkRunRows ?? Infinity, service.maxChunkRows ?? Infinity);
        // The service's own model directory on the shared volume when WORKER_MODEL_ROOT is set (it follows the
        // service's promotions), else the one its package ships.
        const modelDir = config.WORKER_MODEL_ROOT === undefined ? undefined : path.join(config.WORKER_MODEL_ROOT, service.queue);
        const runtime = new PredictorRuntime(parts?.predictor ?? service.predictor, { ...options, bulkRunRows, modelDir, version: undefined });
        const connection = createRedis(redisConfig, logger, { role: `worker:${service.queue}`, service: 'batch-worker', ...waiting });
        const queue = new Queue(service.queue, { connection: this.inspect.client, prefix: config.JOBS_PREFIX });
        queue.on('error', () => undefined);
        return { service, runtime, connection, queue, parts };
      });
  }

  /** Per queue, BullMQ's job counts (the gauges read this at scrape time). */
  async jobCounts() {
    if (!this.inspect.ready) throw new Error('redis unavailable');
    return Promise.all(this.queues.map(async (q) => ({ queue: q.service.queue, counts: await q.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed') })));
  }

  /** Every model loaded and warmed, every Worker running, Redis answering. */
  get ready(): boolean {
    return this.started && !this.stopping && this.data.ready && this.queues.every((q) => q.runtime.ready && q.worker?.isRunning());
  }

  get modelsLoaded(): boolean {
    return this.queues.every((q) => q.runtime.ready);
  }

  /** Loads every model, then starts taking jobs. */
  async start(): Promise<void> {
    const { config, logger } = this.deps;
    const workerMetrics = this.workerMetrics;
    this.data.start();
    this.inspect.start();
    await Promise.all(this.queues.map((q) => q.parts?.start()));
    await Promise.all(this.queues.map((q) => q.runtime.start()));
    // Follow each service's `active` pointer, as its HTTP replicas do.
    for (const q of this.queues) q.runtime.watch(config.MODEL_POLL_INTERVAL_MS);
    for (const q of this.queues) {
      const name = q.service.queue;
      q.connection.start();
      const processor = createProcessor({
        queue: name,
        prefix: config.JOBS_PREFIX,
        redis: this.data.client,
        runtime: q.runtime,
        sources: q.parts?.sources ?? q.service.sources,
        maxChunkRows: q.service.maxChunkRows,
        afterChunk: q.parts?.afterChunk?.bind(q.parts),
        metrics: workerMetrics,
        logger,
        isStopping: () => this.stopping,
      });
      const run = async (job: Job, token?: string): Promise<JobSummary> => {
        if (job.name !== JOB_NAME) throw new JobRefusedError('invalid_payload', `unknown job name '${job.name}' (expected '${JOB_NAME}')`);
        const end = workerMetrics.jobDuration.startTimer({ queue: name });
        try {
          const summary = await processor(job, token);
          end({ outcome: 'completed' });
          return summary;
        } catch (error) {
          end({ outcome: error instanceof WaitingError ? 'requeued' : 'failed' });
          throw error;
        }
      };
      const worker = new Worker(name, run, {
        connection: q.connection.client,
        prefix: config.JOBS_PREFIX,
        concurrency: config.WORKER_CONCURRENCY,
        lockDuration: config.WORKER_LOCK_DURATION_MS,
        stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
        maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
        removeOnComplete: { age: config.WORKER_KEEP_COMPLETED_SECONDS, count: config.WORKER_KEEP_COMPLETED_COUNT },
        removeOnFail: { age: config.WORKER_KEEP_FAILED_SECONDS, count: config.WORKER_KEEP_FAILED_COUNT },
        ...(config.WORKER_RATE_LIMIT_JOBS > 0 ? { limiter: { max: config.WORKER_RATE_LIMIT_JOBS, duration: config.WORKER_RATE_LIMIT_MS } } : {}),
      });
      const log = logger.child({ component: 'worker', queue: name });
      worker.on('error', (error) => log.warn('worker error', { error: { message: error.message } }));
      worker.on('failed', (job, error) => {
        if (error instanceof WaitingError || error.name === 'WaitingError') return;
        const reason = error instanceof JobRefusedError ? error.reason : 'error';
        workerMetrics.failures.inc({ queue: name, reason });
        log.warn('job attempt failed', { job_id: job?.id, reason, error: { message: error.message, ...(reason === 'error' ? { stack: error.stack } : {}) }, attempts_made: job?.attemptsMade });
      });
      worker.on('lockRenewalFailed', (ids: string[]) => {
        workerMetrics.lockRenewalFailures.inc({ queue: name }, ids.length);
        log.warn('job lock renewal failed', { job_ids: ids });
      });
      worker.on('stalled', (jobId: string) => {
        workerMetrics.stalled.inc({ queue: name });
        log.warn('stalled job moved back to wait', { job_id: jobId });
      });
      q.worker = worker;
    }
    this.started = true;
    logger.info('workers started', { queues: this.queues.map((q) => q.service.queue), concurrency: config.WORKER_CONCURRENCY });
  }

  /**
   * SIGTERM: stop taking jobs; a job in progress goes back to wait after its current chunk (another worker
   * resumes it there). Bounded by `timeoutMs`: past it the Workers are closed without waiting (the jobs' locks
   * lapse and stalled-job recovery hands them on).
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const closing = Promise.all(this.queues.map((q) => q.worker?.close()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.deps.logger.warn('drain timed out; closing workers without waiting', { timeout_ms: timeoutMs });
      await Promise.all(this.queues.map((q) => q.worker?.close(true)));
    }
    await Promise.all(this.queues.map((q) => q.queue.close().catch(() => undefined)));
    await Promise.all(this.queues.map((q) => q.connection.stop()));
    await Promise.all(this.queues.map((q) => q.parts?.stop()));
    await this.inspect.stop();
    await this.data.stop();
    await Promise.all(this.queues.map((q) => q.runtime.stop()));
  }
}
