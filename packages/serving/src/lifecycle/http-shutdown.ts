import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceState } from './service-state';
import { closeServer, type ShutdownStep } from './shutdown';

export interface HttpShutdownOptions {
  state: ServiceState;
  server: Server;
  /** How long readiness answers 503 while requests are still served, before the listener closes. */
  graceMs: number;
  /** Bound on draining in-flight requests once the listener is closed. */
  drainTimeoutMs: number;
  /** Waits out the grace period (a timer); a test passes its own to decide when the period ends. */
  wait?: (ms: number) => Promise<unknown>;
}

/**
 * The HTTP part of the shutdown sequence: readiness turns 503; for `graceMs` requests are still answered
 * (with `Connection: close`) while load balancers notice and stop routing here; then the listener closes and
 * in-flight requests drain. Closing in the same instant as readiness would refuse the connections a balancer
 * still sends.
 */
export function httpShutdownSteps({ state, server, graceMs, drainTimeoutMs, wait = sleep }: HttpShutdownOptions): ShutdownStep[] {
  return [
    { name: 'readiness 503', run: () => state.startDraining() },
    { name: 'grace period: serve while load balancers stop routing here', run: async () => void (await wait(graceMs)) },
    { name: 'stop accepting HTTP and drain in-flight requests', run: () => closeServer(server, drainTimeoutMs) },
  ];
}
