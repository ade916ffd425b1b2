import type { NextFunction, Request, Response } from 'express';

/** An OpenAPI 3.0 Schema Object. */
export type OpenApiSchema = Record<string, unknown>;

/**
 * Reads one kind of request body. A route lists the decoders it accepts; the first whose media type matches
 * the request's Content-Type decodes it into `req.body`. Each describes itself for the OpenAPI document.
 */
export interface RequestDecoder {
  /** Media type this decoder reads, e.g. `application/json`, `multipart/form-data`, `application/x-ndjson`. */
  readonly mediaType: string;
  /** Middleware: decodes the body into `req.body`, or calls next(error) with an HttpError 4xx for a bad one. */
  decode(req: Request, res: Response, next: NextFunction): void;
  /** The OpenAPI schema of the body in this media type, given the route's JSON body schema if any. */
  openapi(bodySchema: OpenApiSchema | undefined): OpenApiSchema;
}

/** A decoder written as a promise, as middleware. */
export function settleInto(read: (req: Request) => Promise<unknown>): RequestDecoder['decode'] {
  return (req, _res, next) => {
    read(req).then((body) => {
      req.body = body;
      next();
    }, next);
  };
}
