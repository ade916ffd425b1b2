import type { RequestHandler } from 'express';

/** A dependency readiness depends on (critical) or that /health reports as degraded (not critical). */
export interface ReadinessCheck {
  name: string;
  /** true when the dependency is usable. Keep it cheap: it runs on every probe. */
  check(): boolean | Promise<boolean>;
  /** false: a failure shows as `degraded` in /health but readiness stays green (e.g. an optional log store). */
  critical: boolean;
}

export interface HealthSource {
  service: string;
  version: string;
  startedAt: Date;
  /** Model loaded and warmed. */
  modelReady(): boolean;
  isDraining(): boolean;
  model(): { name: string; version: string; loaded_at: string; sha256: string } | undefined;
  checks: readonly ReadinessCheck[];
}

async function runChecks(checks: readonly ReadinessCheck[]) {
  const results = await Promise.all(
    checks.map(async (c) => ({ name: c.name, critical: c.critical, ok: await Promise.resolve(c.check()).catch(() => false) })),
  );
  return {
    ok: results.every((r) => r.ok || !r.critical),
    degraded: results.some((r) => !r.ok && !r.critical),
    results,
  };
}

/**
 * `GET /health/live`: the process answers. `GET /health/ready`: 200 only while a warmed model serves, every
 * critical check passes and the process is not draining (503 before and during shutdown, so load balancers
 * stop sending). `GET /health`: a JSON summary with each check. All three are always open: no API key.
 */
export function healthHandlers(source: HealthSource): { live: RequestHandler; ready: RequestHandler; summary: RequestHandler } {
  const status = async () => {
    if (source.isDraining()) return { status: 'draining', checks: undefined };
    const checks = await runChecks(source.checks);
    if (!source.modelReady() || !checks.ok) return { status: source.modelReady() ? 'unavailable' : 'starting', checks };
    return { status: checks.degraded ? 'degraded' : 'ok', checks };
  };
  const serving = (s: string) => s === 'ok' || s === 'degraded';
  return {
    live: (_req, res) => {
      res.json({ status: 'ok' });
    },
    ready: async (_req, res) => {
      const { status: s } = await status();
      res.status(serving(s) ? 200 : 503).json({ status: s });
    },
    summary: async (_req, res) => {
      const { status: s, checks } = await status();
      res.status(serving(s) ? 200 : 503).json({
        status: s,
        service: source.service,
        version: source.version,
        uptime_seconds: Math.round((Date.now() - source.startedAt.getTime()) / 1000),
        model: source.model() ?? null,
        checks: Object.fromEntries((checks?.results ?? []).map((r) => [r.name, r.ok ? 'ok' : r.critical ? 'failing' : 'degraded'])),
      });
    },
  };
}
