import type { z } from 'zod';
import { ValidationError, type FieldIssue } from './validation-error';

/** Every failing field of a zod error as `{path, message, code}`, paths dotted (`instances.2.origin`). */
export function zodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.'),
    message: issue.message,
    code: issue.code,
  }));
}

/** Parse with a zod schema or throw a 400 ValidationError naming every failing field (under `prefix`, e.g. `params`). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix: readonly PropertyKey[] = []): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(zodIssues(result.error, prefix));
  return result.data;
}
