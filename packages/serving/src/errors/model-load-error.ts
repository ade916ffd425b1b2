import { HttpError } from './http-error';

/**
 * A model version could not be loaded, checked or warmed. At start-up it stops the process; on a hot reload
 * it is answered as 422 and the model that was serving keeps serving.
 */
export class ModelLoadError extends HttpError {
  override name = 'ModelLoadError';

  constructor(message: string, details?: unknown, cause?: unknown) {
    super(422, 'model_load_failed', message, { details, cause });
  }
}
