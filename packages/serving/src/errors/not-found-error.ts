import { HttpError } from './http-error';

/** 404: no such route or resource. */
export class NotFoundError extends HttpError {
  override name = 'NotFoundError';

  constructor(message: string, code = 'not_found') {
    super(404, code, message);
  }
}
