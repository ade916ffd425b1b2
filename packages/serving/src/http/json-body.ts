import { isUtf8 } from 'node:buffer';
import type { RequestHandler } from 'express';
import { HttpError } from '../errors/http-error';
import { enforceBodyLimit, readBody } from './body-limit';

const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;
const UTF8 = /^utf-?8$/i;
const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/** The charset parameter of a Content-Type, lower-cased, if there is one. */
function charsetOf(contentType: string | undefined): string | undefined {
  const match = contentType === undefined ? null : CHARSET.exec(contentType);
  return match ? (match[1] ?? match[2] ?? '').toLowerCase() : undefined;
}

/** JSON text (RFC 8259: UTF-8; a UTF-8 byte-order mark is ignored) whose top level is an object or array. */
function parseJson(raw: Buffer): unknown {
  if (!isUtf8(raw)) throw new HttpError(400, 'invalid_json', 'request body is not valid UTF-8');
  const bom = raw[0] === UTF8_BOM[0] && raw[1] === UTF8_BOM[1] && raw[2] === UTF8_BOM[2];
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8', bom ? 3 : 0));
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) {
    throw new HttpError(400, 'invalid_json', 'request body must be a JSON object or array');
  }
  return value;
}

/**
 * Reads a JSON body (the JSON decoder's middleware; the route table has already matched the media type and
 * answered a missing body): a charset other than UTF-8 is a 415; an oversize body is a 413, answered from
 * Content-Length before reading, or the moment a streamed body passes the limit; an empty streamed body is a
 * 400 `missing_body`; malformed JSON or bytes that are not UTF-8 are a 400. Top level must be an object or
 * array.
 */
export function jsonBody(limitBytes: number): RequestHandler[] {
  const utf8Only: RequestHandler = (req, _res, next) => {
    const charset = charsetOf(req.headers['content-type']);
    if (charset !== undefined && !UTF8.test(charset)) {
      next(new HttpError(415, 'unsupported_media_type', `request body must be UTF-8 JSON; charset "${charset}" is not supported`, { details: { charset } }));
      return;
    }
    next();
  };
  const parse: RequestHandler = (req, _res, next) => {
    readBody(req, limitBytes)
      .then((raw) => {
        if (raw.length === 0) throw new HttpError(400, 'missing_body', 'request body is required (a JSON object)');
        req.body = parseJson(raw);
        next();
      })
      .catch(next);
  };
  return [utf8Only, enforceBodyLimit(limitBytes), parse];
}
