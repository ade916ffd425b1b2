import type { Router } from 'express';

export interface HealthSource {
  service: string;
  version: string;
  startedAt: Date;
  /** Model loaded and warmed, and not draining. */
  isReady(): boolean;
  isDraining(): boolean;
  model(): { name: string; version: string; loaded_at: string; sha256: string } | undefined;
}

/**
 * `GET /health/live`: the process answers. `GET /health/ready`: 200 only while a warmed model serves and the
 * process is not draining (503 before and during shutdown, so load balancers stop sending). `GET /health`:
 * a JSON summary. All three are always open: no API key.
 */
export function healthRoutes(router: Router, source: HealthSource): void {
  const status = () => (source.isDraining() ? 'draining' : source.isReady() ? 'ok' : 'starting');
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', (_req, res) => {
    const s = status();
    res.status(s === 'ok' ? 200 : 503).json({ status: s });
  });
  router.get('/health', (_req, res) => {
    const s = status();
    res.status(s === 'ok' ? 200 : 503).json({
      status: s,
      service: source.service,
      version: source.version,
      uptime_seconds: Math.round((Date.now() - source.startedAt.getTime()) / 1000),
      model: source.model() ?? null,
    });
  });
}

export const HEALTH_ROUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ['/health', ['GET']],
  ['/health/live', ['GET']],
  ['/health/ready', ['GET']],
]);
