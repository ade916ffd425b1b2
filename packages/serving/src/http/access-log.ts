import type { RequestHandler } from 'express';
import type { Logger } from 'winston';
import type { ServingMetrics } from '../metrics/metrics';
import { requestIdOf, routeTemplate } from './request-context';

/** Records every response: one JSON log line (if enabled) and the HTTP metrics, labelled by route template. */
export function accessLog(logger: Logger, metrics: ServingMetrics, options: { log: boolean }): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const labels = { route: routeTemplate(req), method: req.method, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      if (options.log) {
        logger.info('request', {
          request_id: requestIdOf(res),
          method: req.method,
          route: labels.route,
          status: res.statusCode,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
        });
      }
    });
    next();
  };
}
