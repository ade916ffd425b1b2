import type { Response } from 'express';

const JSON_UTF8 = 'application/json; charset=utf-8';

/**
 * Answers `body` as JSON with the headers Express's `res.json` sets here (Content-Type
 * `application/json; charset=utf-8`, Content-Length), for the prediction routes' hot path. `res.json` works
 * them out again on every call (two mime-type lookups, a Content-Type parse and format, a freshness check);
 * those answers never vary for these routes: this app sets no JSON replacer, spaces or escaping, ETags are off
 * and no request is conditional (`disableConditionalGet`). Status is whatever `res.statusCode` already says.
 */
export function sendJson(res: Response, body: unknown): void {
  const text = JSON.stringify(body);
  res.setHeader('Content-Type', JSON_UTF8);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
