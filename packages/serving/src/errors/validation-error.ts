import { HttpError } from './http-error';

export interface FieldIssue {
  /** Dotted path of the failing field, e.g. `instances.3.origin`; empty for the body itself. */
  path: string;
  message: string;
  code: string;
}

/** 400: the request does not match its schema; `details` lists every failing field and why. */
export class ValidationError extends HttpError {
  override name = 'ValidationError';
  readonly issues: readonly FieldIssue[];

  constructor(issues: FieldIssue[], message = describe(issues)) {
    super(400, 'validation_error', message, { details: issues });
    this.issues = issues;
  }
}

function describe(issues: FieldIssue[]): string {
  const first = issues[0];
  if (!first) return 'request is invalid';
  const where = first.path === '' ? 'body' : first.path;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${where}: ${first.message}${more}`;
}
