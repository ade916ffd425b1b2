import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'winston';
import { errorBody } from '../errors/error-middleware';
import { HttpError } from '../errors/http-error';

export interface ClientErrorOptions {
  logger: Logger;
  /** One line per refused request (info), as the access log writes for the requests that reach the app. */
  log: boolean;
}

/** What Node's HTTP parser (or its timeouts) refused, as the answer the platform gives. */
function answerFor(code: string | undefined): HttpError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HttpError(431, 'request_header_fields_too_large', 'request line and headers exceed the server limit');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HttpError(413, 'payload_too_large', 'chunk extensions exceed the server limit');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, 'request_timeout', 'the request was not received in time');
    default:
      return new HttpError(400, 'bad_request', 'malformed HTTP request');
  }
}

/**
 * The server's `clientError` listener: a request Node's parser refuses never reaches the app, so without this
 * it gets Node's bare status line (no body, no request id). This answers it in the one error shape with an
 * X-Request-ID and `Connection: close`, then closes. A socket that cannot be written, or whose response has
 * already begun, is destroyed (a second status line would corrupt the stream).
 */
export function clientErrorHandler({ logger, log }: ClientErrorOptions): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    const answer = answerFor(error.code);
    const body = JSON.stringify(errorBody(answer, requestId));
    socket.end(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-ID: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
      () => socket.destroy(),
    );
    if (log) logger.info('client error', { request_id: requestId, status: answer.status, code: answer.code, reason: error.code });
  };
}
