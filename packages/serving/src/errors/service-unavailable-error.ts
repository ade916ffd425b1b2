import { HttpError } from './http-error';

/** 503: we cannot take the work now (queue full, draining, no model, timed out); the client may retry. */
export class ServiceUnavailableError extends HttpError {
  override name = 'ServiceUnavailableError';

  constructor(message: string, code = 'service_unavailable', retryAfterSeconds = 1) {
    super(503, code, message, { headers: { 'Retry-After': String(retryAfterSeconds) } });
  }
}
