import type { Express } from 'express';

/**
 * A service's JSON answers are computed per request and carry no validators (ETag is off, no Last-Modified),
 * so no conditional request can be satisfied from a client's copy. Express's res.send still asks `req.fresh`,
 * and the `fresh` module answers `If-None-Match: *` with true whatever the response: an empty 304 to a health
 * probe or a model-card read. This makes `req.fresh` false for every request of `app` (no per-request cost);
 * static files (Swagger UI assets) keep their own ETag checks in serve-static.
 */
export function disableConditionalGet(app: Express): void {
  Object.defineProperty(app.request, 'fresh', { configurable: true, enumerable: true, get: () => false });
}
