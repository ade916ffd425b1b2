import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'winston';

/** IPC message a worker sends once its model is warm and it serves. */
export const WORKER_READY = 'predict:worker-ready';

export interface ClusterPrimaryOptions {
  workers: number;
  logger: Logger;
  /** Bound on the workers' own shutdown sequences; past it the remaining ones are killed and the primary exits 1. */
  shutdownTimeoutMs: number;
  /** The primary answers workers' /metrics with the sum over all of them (metrics/cluster-metrics). */
  serveMetrics: () => () => void;
  signals?: NodeJS.Signals[];
  exit?: (code: number) => void;
}

/** Tells the primary, when there is one, that this worker serves. */
export function reportWorkerReady(): void {
  if (cluster.isWorker) process.send?.({ type: WORKER_READY });
}

/**
 * The primary of WORKERS=N: forks N processes of the same service (node:cluster shares one listening port
 * between them, connections handed out round-robin), restarts a worker that dies after it served, and gives
 * up (exit 1) when a worker dies before it ever served, as a bad config or a broken model would make every
 * replacement die too. On SIGTERM/SIGINT each worker gets SIGTERM once and runs its own shutdown sequence
 * (readiness 503, grace, drain in-flight, release the model); the primary exits 0 when all exited 0.
 */
export function runClusterPrimary(options: ClusterPrimaryOptions): { stop(reason: string): void; stopped: Promise<number> } {
  const { logger, workers, shutdownTimeoutMs } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const ready = new Set<number>();
  const stopMetrics = options.serveMetrics();
  let stopping = false;
  let failed = false;
  let finish: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (finish = resolve));

  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  const fork = () => {
    const worker = cluster.fork();
    logger.info('worker started', { worker: worker.id, pid: worker.process.pid });
    worker.on('message', (message: unknown) => {
      if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === WORKER_READY) {
        ready.add(worker.id);
        if (ready.size === workers) logger.info('all workers ready', { workers });
      }
    });
  };

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping workers', { reason, workers: live().length });
    for (const worker of live()) worker.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      logger.error('workers did not stop in time; killing them', { timeout_ms: shutdownTimeoutMs });
      failed = true;
      for (const worker of live()) worker.process.kill('SIGKILL');
    }, shutdownTimeoutMs);
    timer.unref();
    void stopped.then(() => clearTimeout(timer));
    if (live().length === 0) done();
  };

  const done = () => {
    stopMetrics();
    const code = failed ? 1 : 0;
    logger.info('all workers stopped', { exit_code: code });
    finish(code);
    exit(code);
  };

  cluster.on('exit', (worker, code, signal) => {
    const served = ready.delete(worker.id);
    if (stopping) {
      if (code !== 0) failed = true;
      logger.info('worker stopped', { worker: worker.id, pid: worker.process.pid, code, signal });
      if (live().length === 0) done();
      return;
    }
    if (!served) {
      logger.error('worker exited before it served; stopping', { worker: worker.id, code, signal });
      failed = true;
      stop('worker failed to start');
      return;
    }
    logger.error('worker died; starting another', { worker: worker.id, code, signal });
    fork();
  });

  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) process.on(signal, () => stop(signal));
  logger.info('starting workers', { workers });
  for (let i = 0; i < workers; i++) fork();
  return { stop, stopped };
}
