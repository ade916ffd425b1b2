import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'winston';
import { requestIdOf, routeTemplate } from '../http/request-context';
import { HttpError } from './http-error';
import { PayloadTooLargeError } from './payload-too-large-error';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
  limit?: number;
}

/** `{code, message, details?}` of an error: the inside of the error body, and a batch instance's error. */
export function errorDetail(error: HttpError): { code: string; message: string; details?: unknown } {
  return error.details === undefined
    ? { code: error.code, message: error.message }
    : { code: error.code, message: error.message, details: error.details };
}

/** The one error body every service answers with. */
export function errorBody(error: HttpError, requestId: string | undefined) {
  return { error: { ...errorDetail(error), request_id: requestId } };
}

/**
 * Turns the errors body-parser raises (malformed JSON, oversize body, bad charset) into HttpErrors, for a route
 * that mounts express.json() itself; the core's own JSON routes read bodies with jsonBody.
 */
function fromBodyParser(error: BodyParserError): HttpError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return new HttpError(400, 'invalid_json', `request body is not valid JSON: ${error.message}`);
    case 'entity.too.large':
      return new PayloadTooLargeError(error.limit ?? 0);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, 'unsupported_encoding', error.message);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new HttpError(400, 'bad_request', error.message);
    default:
      if (typeof error.status === 'number' && error.status >= 400 && error.status < 500 && error.expose) {
        return new HttpError(error.status, 'bad_request', error.message);
      }
      return undefined;
  }
}

/**
 * Maps every error to the one body shape. 4xx are the client's (the access log records them). An expected 503
 * (load shedding: queue full, timed out, draining, no model yet) is one warning line without a stack; every
 * other 5xx is our fault and logged with its stack; anything that is not an HttpError is answered as a bare
 * 500 — a response never carries a stack. Lines name the route template, never the raw path (it may hold ids).
 */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const requestId = requestIdOf(res);
    let httpError = err instanceof HttpError ? err : undefined;
    if (!httpError && err instanceof Error) httpError = fromBodyParser(err as BodyParserError);
    const where = { request_id: requestId, method: req.method, route: routeTemplate(req) };
    if (httpError?.status === 503) {
      logger.warn(httpError.message, { ...where, status: 503, code: httpError.code });
    } else if (!httpError || httpError.status >= 500) {
      const error = err instanceof Error ? err : new Error(String(err));
      logger.error(error.message, { ...where, error });
    }
    if (!httpError) httpError = new HttpError(500, 'internal_error', 'internal server error');
    for (const [name, value] of Object.entries(httpError.headers)) res.setHeader(name, value);
    res.status(httpError.status).json(errorBody(httpError, requestId));
  };
}
