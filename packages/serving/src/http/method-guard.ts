import type { IRouter } from 'express';
import { MethodNotAllowedError } from '../errors/method-not-allowed-error';
import { NotFoundError } from '../errors/not-found-error';

/**
 * After every route is registered: a known path asked with a method it does not take answers 405 with
 * `Allow`; an unknown path answers 404. Both in the one error body shape.
 */
export function methodGuard(router: IRouter, routes: ReadonlyMap<string, readonly string[]>): void {
  for (const [path, methods] of routes) {
    const allowed = methods.includes('GET') ? [...methods, 'HEAD'] : [...methods];
    router.all(path, (req, _res, next) => next(new MethodNotAllowedError(req.method, path, allowed)));
  }
  router.use((req, _res, next) => next(new NotFoundError(`no route for ${req.method} ${req.path}`)));
}
