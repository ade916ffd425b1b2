import type { Server } from 'node:http';
import type { Logger } from 'winston';

export interface ShutdownStep {
  name: string;
  run(): Promise<void> | void;
}

export interface ShutdownOptions {
  logger: Logger;
  /** Bound on the whole sequence; past it the process exits 1. */
  timeoutMs: number;
  steps: ShutdownStep[];
  signals?: NodeJS.Signals[];
  exit?: (code: number) => void;
}

/**
 * One shutdown sequence on SIGTERM/SIGINT: the steps run in order (stop accepting HTTP → drain in-flight →
 * close workers → close queues → quit Redis → release sessions), then exit 0; a step that fails is logged
 * and the rest still run (exit 1). If the sequence outlives `timeoutMs` the process exits 1.
 */
export function registerShutdown(options: ShutdownOptions): { shutdown(reason: string, exitCode?: number): Promise<void> } {
  const { logger, timeoutMs, steps } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;

  const shutdown = (reason: string, exitCode = 0): Promise<void> => {
    running ??= (async () => {
      logger.info('shutting down', { reason, timeout_ms: timeoutMs });
      const timer = setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting', { timeout_ms: timeoutMs });
        exit(1);
      }, timeoutMs);
      timer.unref();
      let failed = false;
      for (const step of steps) {
        try {
          await step.run();
          logger.info('shutdown step done', { step: step.name });
        } catch (error) {
          failed = true;
          logger.error('shutdown step failed', { step: step.name, error });
        }
      }
      clearTimeout(timer);
      logger.info('shutdown complete');
      exit(failed ? 1 : exitCode);
    })();
    return running;
  };

  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => void shutdown(signal));
  }
  return { shutdown };
}

/**
 * A stray rejection is a bug to log, not a reason to drop every in-flight request; an uncaught exception
 * leaves state unknown, so the process runs its shutdown sequence (draining what it can) and exits 1 for the
 * supervisor to restart it. For a process's entry point (a service, the batch worker), once.
 */
export function exitOnProcessErrors(logger: Logger, shutdown: (reason: string, exitCode?: number) => Promise<void>): void {
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled promise rejection', { error: reason instanceof Error ? reason : new Error(String(reason)) });
  });
  process.on('uncaughtException', (error) => {
    logger.error('uncaught exception; shutting down', { error });
    void shutdown('uncaughtException', 1);
  });
}

/**
 * Stops accepting connections and resolves when every in-flight request has been answered; idle keep-alive
 * connections are closed at once. After `graceMs` the remaining connections are cut and it rejects.
 */
export function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      reject(new Error(`in-flight requests did not finish within ${graceMs} ms; connections were cut`));
    }, graceMs);
    timer.unref();
    server.close((error) => {
      clearTimeout(timer);
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
