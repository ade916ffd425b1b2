import type { RequestHandler } from 'express';
import { jsonBody } from './json-body';
import type { OpenApiSchema, RequestDecoder } from './request-decoder';

/** Runs middleware in order, stopping at the first error: several handlers as one. */
function chain(handlers: readonly RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let i = 0;
    const step = (error?: unknown) => {
      const handler = handlers[i++];
      if (error !== undefined || !handler) next(error);
      else handler(req, res, step);
    };
    step();
  };
}

/**
 * `application/json` as `jsonBody` reads it: UTF-8 only (other charsets 415), 413 from Content-Length
 * before reading or the moment a streamed body passes the limit, malformed JSON 400, an object or array
 * at the top level.
 */
export function jsonDecoder(limitBytes: number): RequestDecoder {
  return {
    mediaType: 'application/json',
    decode: chain(jsonBody(limitBytes)),
    openapi: (bodySchema: OpenApiSchema | undefined) => bodySchema ?? { type: 'object' },
  };
}
