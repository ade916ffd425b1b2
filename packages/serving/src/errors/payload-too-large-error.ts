import { HttpError } from './http-error';

/**
 * 413: the request body is over the limit. Answered before the rest is read, so the connection closes
 * (`Connection: close`) rather than read on to find the next request.
 */
export class PayloadTooLargeError extends HttpError {
  override name = 'PayloadTooLargeError';

  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `request body exceeds the limit of ${limitBytes} bytes`, {
      details: { limit_bytes: limitBytes },
      headers: { Connection: 'close' },
    });
  }
}
