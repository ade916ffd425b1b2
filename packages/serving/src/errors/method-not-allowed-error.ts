import { HttpError } from './http-error';

/** 405: the route exists but not for this method; `Allow` lists the methods it takes. */
export class MethodNotAllowedError extends HttpError {
  override name = 'MethodNotAllowedError';

  constructor(method: string, path: string, allowed: readonly string[]) {
    super(405, 'method_not_allowed', `${method} is not allowed on ${path}`, {
      headers: { Allow: allowed.join(', ') },
      details: { allowed },
    });
  }
}
