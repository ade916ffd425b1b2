import path from 'node:path';
import { HttpError } from './http-error';

/** An absolute file path inside a message (`/srv/models/2/model.json`, `C:\models\2`). */
const ABSOLUTE_PATH = /(?:[A-Za-z]:\\|\/)[^\s'"`,;:()]*[^\s'"`,;:().]/g;

/**
 * A model version could not be loaded, checked or warmed. At start-up it stops the process; on a hot reload
 * it is answered as 422 and the model that was serving keeps serving. Its message reaches API responses, so
 * file paths in it (from fs or onnxruntime errors) are cut to their last segment; the cause keeps them for
 * the log.
 */
export class ModelLoadError extends HttpError {
  override name = 'ModelLoadError';

  constructor(message: string, details?: unknown, cause?: unknown) {
    super(422, 'model_load_failed', message.replace(ABSOLUTE_PATH, (p) => path.basename(p)), { details, cause });
  }
}
