import { HttpError } from './http-error';

/** 422: the request is well formed but names something the model cannot serve (e.g. an unknown airport). */
export class UnprocessableEntityError extends HttpError {
  override name = 'UnprocessableEntityError';

  constructor(message: string, details?: unknown, code = 'unprocessable_entity') {
    super(422, code, message, { details });
  }
}
