import express, { type RequestHandler } from 'express';
import { HttpError } from '../errors/http-error';

/**
 * Body parsing for one JSON route (mounted per route so a malformed body is still labelled with its route):
 * a body not declared as JSON is a 415, a missing one a 400 (unless `optional`: then `{}`); malformed JSON
 * is a 400 and an oversize body a 413 (error middleware). Top level must be an object or array.
 */
export function jsonBody(limitBytes: number, options: { optional?: boolean } = {}): RequestHandler[] {
  const parse = express.json({ limit: limitBytes, strict: true });
  const requireJson: RequestHandler = (req, _res, next) => {
    const type = req.is('application/json');
    if (type === null || req.headers['content-length'] === '0') {
      // No body at all.
      if (options.optional) {
        req.body = {};
        next();
      } else next(new HttpError(400, 'missing_body', 'request body is required (a JSON object)'));
      return;
    }
    if (type === false) {
      next(new HttpError(415, 'unsupported_media_type', 'request body must be JSON (Content-Type: application/json)'));
      return;
    }
    next();
  };
  return [requireJson, parse];
}
