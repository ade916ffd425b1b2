import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { RequestHandler } from 'express';
import { HttpError } from '../errors/http-error';
import { PayloadTooLargeError } from '../errors/payload-too-large-error';

/** The body size a request declares (Content-Length), or undefined when it streams (chunked) or has none. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}

/**
 * Answers 413 at once when the declared Content-Length is over the limit, before a byte of the body is read
 * (a client declaring 2 MB otherwise waits until it has sent all of it). Streamed bodies are capped by
 * readBody as they arrive.
 */
export function enforceBodyLimit(limitBytes: number): RequestHandler {
  return (req, _res, next) => {
    const declared = declaredLength(req);
    next(declared !== undefined && declared > limitBytes ? new PayloadTooLargeError(limitBytes) : undefined);
  };
}

function decoderFor(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * Reads a request body into one Buffer, decoding Content-Encoding (gzip, deflate, br), with a cap on the
 * decoded bytes. The moment the body passes `limitBytes` it stops reading (the rest stays on the wire) and
 * rejects with a 413 that closes the connection; it never drains an oversize body to its end. A body cut
 * off by the client rejects with 400. Usable by any decoder (JSON today; multipart or NDJSON later).
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limitBytes) return Promise.reject(new PayloadTooLargeError(limitBytes));
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let source: Readable = req;
  if (encoding !== 'identity') {
    const decoder = decoderFor(encoding);
    if (!decoder) {
      return Promise.reject(new HttpError(415, 'unsupported_encoding', `unsupported content encoding "${encoding}"`, { details: { encoding } }));
    }
    source = req.pipe(decoder);
  }

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (error?: HttpError) => {
      if (settled) return;
      settled = true;
      source.off('data', onData).off('end', onEnd).off('error', onDecodeError);
      req.off('close', onClose);
      if (!error) {
        resolve(Buffer.concat(chunks, received));
        return;
      }
      // Stop reading: what is still on the wire stays there, and the error's response closes the connection.
      req.unpipe();
      req.pause();
      if (source !== req) source.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) settle(new PayloadTooLargeError(limitBytes));
      else chunks.push(chunk);
    };
    const onEnd = () => settle();
    const onDecodeError = (error: Error) =>
      settle(
        source === req
          ? new HttpError(400, 'bad_request', 'request body could not be read', { cause: error })
          : new HttpError(400, 'bad_request', `request body is not valid ${encoding}`, { cause: error }),
      );
    const onClose = () => {
      if (!req.complete) settle(new HttpError(400, 'bad_request', 'request body was cut off before its end'));
    };
    source.on('data', onData).once('end', onEnd).once('error', onDecodeError);
    req.once('close', onClose);
  });
}
