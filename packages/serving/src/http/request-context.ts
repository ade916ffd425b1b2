import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'winston';
import type { ServingMetrics } from '../metrics/metrics';

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(res: Response): string | undefined {
  const id: unknown = res.locals['requestId'];
  return typeof id === 'string' ? id : undefined;
}

/** The route template that matched (`/v1/predict`), never the raw path; `unmatched` when none did. */
export function routeTemplate(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  return route && typeof route.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
}

export interface RequestContextOptions {
  logger: Logger;
  metrics: ServingMetrics;
  /** One access-log line per request. */
  log: boolean;
  /** While true, responses carry `Connection: close` so keep-alive clients reconnect elsewhere. */
  isDraining(): boolean;
}

/**
 * The first middleware of every request (one layer, on the hot path): takes the caller's X-Request-ID when it
 * is a plain token (so it cannot forge log lines) or makes one, echoes it, and when the response is finished
 * records the HTTP metrics (labelled by route template) and the access-log line.
 */
export function requestContext({ logger, metrics, log, isDraining }: RequestContextOptions): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
    res.locals['requestId'] = id;
    res.setHeader('X-Request-ID', id);
    if (isDraining()) res.setHeader('Connection', 'close');
    // 'finish' fires at most once per response: `on` spares the once-wrapper `once` allocates per request.
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const labels = { route: routeTemplate(req), method: req.method, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      if (log) {
        const caller: unknown = res.locals['caller']; // the API key's id (auth), never the key
        logger.info('request', {
          request_id: id,
          method: req.method,
          route: labels.route,
          status: res.statusCode,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
          ...(typeof caller === 'string' ? { caller } : {}),
        });
      }
    });
    next();
  };
}
