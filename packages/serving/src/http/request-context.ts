import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Takes the caller's X-Request-ID when it is a plain token (so it cannot forge log lines), else makes one,
 * and echoes it on the response.
 */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given !== undefined && CLIENT_ID.test(given) ? given : randomUUID();
    res.locals['requestId'] = id;
    res.setHeader('X-Request-ID', id);
    next();
  };
}

export function requestIdOf(res: Response): string | undefined {
  const id: unknown = res.locals['requestId'];
  return typeof id === 'string' ? id : undefined;
}

/** The route template that matched (`/v1/predict`), never the raw path; `unmatched` when none did. */
export function routeTemplate(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  return route && typeof route.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
}
