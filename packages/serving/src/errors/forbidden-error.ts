import { HttpError } from './http-error';

/** 403: the API key is valid but lacks the scope this route needs. */
export class ForbiddenError extends HttpError {
  override name = 'ForbiddenError';

  constructor(scope: string) {
    super(403, 'forbidden', `this API key lacks the '${scope}' scope`, { details: { required_scope: scope } });
  }
}
