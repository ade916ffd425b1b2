import { types } from 'node:util';

export const REDACTED = '[REDACTED]';
const TRUNCATED = '[Truncated]';
const CIRCULAR = '[Circular]';
const UNSERIALIZABLE = '[Unserializable]';

/** A key that names a secret, wherever it sits: `token`, `access_token`, `X-API-Key`, `client_secret`, `Cookie`… */
const SECRET_KEY = /token|secret|passw|pwd|api[-_]?key|authori[sz]ation|cookie|credential|private[-_]?key/i;

/** Objects nested deeper than this are written as `[Truncated]`, never passed through unredacted. */
const MAX_DEPTH = 8;

/** Distinct keys whose verdict is remembered; past it the memory starts over (keys come from our own code). */
const MAX_REMEMBERED_KEYS = 2048;

export interface RedactOptions {
  /** Field names (case-insensitive) that are never logged at any depth, e.g. `['patient_id', 'features']`. */
  redactFields?: readonly string[];
}

type Fields = Record<string, unknown>;

/**
 * Makes a log line's fields safe and JSON-ready, in place at the top level (winston builds a fresh object per
 * line) and as copies below it (never touching the caller's objects). Secret keys and the declared fields
 * become `[REDACTED]`; errors keep name, message, stack, code, details and cause; Dates become ISO strings,
 * Maps objects, Sets arrays, bigints strings; typed arrays and buffers a one-line summary; cycles
 * `[Circular]`. The hot path (a flat line of primitives) costs one remembered-key lookup per field.
 */
export function createRedactor({ redactFields = [] }: RedactOptions = {}): (fields: Fields) => void {
  const declared = new Set(redactFields.map((f) => f.toLowerCase()));
  const verdicts = new Map<string, boolean>();

  const hidden = (key: string): boolean => {
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      verdict = SECRET_KEY.test(key) || declared.has(key.toLowerCase());
      if (verdicts.size >= MAX_REMEMBERED_KEYS) verdicts.clear();
      verdicts.set(key, verdict);
    }
    return verdict;
  };

  const entry = (out: Fields, key: string, value: unknown, depth: number, ancestors: object[]): void => {
    out[key] = hidden(key) ? REDACTED : safe(value, depth, ancestors);
  };

  const safe = (value: unknown, depth: number, ancestors: object[]): unknown => {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value !== 'object' || value === null) return value;
    if (ancestors.includes(value)) return CIRCULAR;
    if (depth > MAX_DEPTH) return TRUNCATED;
    if (ArrayBuffer.isView(value)) {
      return types.isDataView(value)
        ? `[DataView byteLength=${value.byteLength}]`
        : `[${Buffer.isBuffer(value) ? 'Buffer' : value.constructor.name} length=${(value as unknown as ArrayLike<unknown>).length}]`;
    }
    if (types.isAnyArrayBuffer(value)) return `[${value.constructor.name} byteLength=${value.byteLength}]`;
    if (types.isDate(value)) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    ancestors.push(value);
    try {
      if (types.isNativeError(value) || value instanceof Error) {
        const error = value as Error & { code?: unknown; details?: unknown };
        const out: Fields = { name: error.name, message: error.message, stack: error.stack };
        if (error.code !== undefined) entry(out, 'code', error.code, depth + 1, ancestors);
        if (error.details !== undefined) entry(out, 'details', error.details, depth + 1, ancestors);
        if (error.cause !== undefined) entry(out, 'cause', error.cause, depth + 1, ancestors);
        return out;
      }
      if (Array.isArray(value) || types.isSet(value)) {
        return Array.from(value as Iterable<unknown>, (v) => safe(v, depth + 1, ancestors));
      }
      const out: Fields = {};
      if (types.isMap(value)) {
        for (const [k, v] of value) entry(out, String(k), v, depth + 1, ancestors);
        return out;
      }
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const json: unknown = toJSON.call(value);
        if (json !== value) return safe(json, depth, ancestors);
      }
      for (const key of Object.keys(value)) entry(out, key, (value as Fields)[key], depth + 1, ancestors);
      return out;
    } finally {
      ancestors.pop();
    }
  };

  return (fields) => {
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (hidden(key)) fields[key] = REDACTED;
      else if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
        try {
          fields[key] = safe(value, 1, []);
        } catch {
          fields[key] = UNSERIALIZABLE; // a getter or toJSON that throws must not take the log line with it
        }
      }
    }
  };
}
