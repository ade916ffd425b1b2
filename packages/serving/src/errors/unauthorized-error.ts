import { HttpError } from './http-error';

/** 401: no API key, or one we do not know. */
export class UnauthorizedError extends HttpError {
  override name = 'UnauthorizedError';

  constructor(message = 'a valid API key is required (X-API-Key or Authorization: Bearer)') {
    super(401, 'unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}
