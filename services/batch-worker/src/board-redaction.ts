import type { BullMQAdapter } from '@bull-board/api/bullMQAdapter';

/** Job data fields Bull-board may show as they are (ids, sizes, settings: no instance). */
const SAFE_DATA = ['v', 'chunk_rows', 'results_ttl_seconds', 'submitted_by', 'request_id'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Job data of a sensitive queue as Bull-board shows it: an allow-list. Inline instances become their count;
 * a chunked input shows its key and sizes (the instances are in Redis, never in job data); a source input shows
 * its name and params (a source's params name a roster, e.g. `facility_id`, never a person).
 */
function redactJobData(data: unknown): unknown {
  if (!isObject(data)) return { redacted: true };
  const shown: Record<string, unknown> = {};
  for (const field of SAFE_DATA) if (data[field] !== undefined) shown[field] = data[field];
  const input = data['input'];
  if (isObject(input)) {
    if (input['kind'] === 'inline') shown['input'] = { kind: 'inline', instances: `[${Array.isArray(input['instances']) ? input['instances'].length : '?'} instances redacted]` };
    else if (input['kind'] === 'chunks') shown['input'] = { kind: 'chunks', key: input['key'], chunks: input['chunks'], rows: input['rows'], chunk_rows: input['chunk_rows'] };
    else if (input['kind'] === 'source') shown['input'] = { kind: 'source', source: input['source'], params: input['params'] };
    else shown['input'] = { redacted: true };
  }
  return shown;
}

/** A sensitive queue's return value (the job summary) without its row errors: counts, model, timings. */
function redactReturnValue(value: unknown): unknown {
  if (!isObject(value)) return value === null || value === undefined ? value : { redacted: true };
  const { errors, ...rest } = value;
  return { ...rest, errors: `[${Array.isArray(errors) ? errors.length : 0} row errors redacted: see the job's results]` };
}

/** Applies both to a Bull-board queue adapter. */
export function redactBoardQueue(adapter: BullMQAdapter): BullMQAdapter {
  adapter.setFormatter('data', redactJobData);
  adapter.setFormatter('returnValue', redactReturnValue);
  return adapter;
}
