import { z } from 'zod';
import { REDACTED } from '../logging/redact';

/** One answered prediction, as the HTTP prediction routes hand it to the log. */
export interface PredictionLogEntry {
  requestId: string;
  /** The instance's position in a batch request; absent for a single prediction. */
  index?: number;
  /** When the answer was ready (Date.now()); written as an ISO time. */
  at: number;
  model: { name: string; version: string };
  /** The validated input instance. */
  input: unknown;
  output: unknown;
  /** From the validated input to the output, in milliseconds. */
  latencyMs: number;
}

/**
 * Where the prediction routes record each answered prediction. `record` runs after the response is sent and
 * must stay cheap: it never waits for I/O, never throws, and never slows the answer down.
 */
export interface PredictionLog {
  record(entry: PredictionLogEntry): void;
}

/** A prediction log that can also read back what it wrote (`GET /admin/predictions`). */
export interface PredictionLogStore extends PredictionLog {
  /** The newest `limit` entries, newest first. */
  newest(limit: number): Promise<StoredPrediction[]>;
}

/** An entry as stored (one JSON string per stream entry) and read back, with its stream id. */
export const storedPredictionSchema = z.object({
  id: z.string().describe('stream entry id (milliseconds-sequence)'),
  request_id: z.string(),
  index: z.number().int().optional().describe('position in a batch request'),
  time: z.string().describe('ISO 8601, when the answer was ready'),
  model: z.object({ name: z.string(), version: z.string() }),
  input: z.unknown(),
  output: z.unknown(),
  latency_ms: z.number(),
});

export type StoredPrediction = z.output<typeof storedPredictionSchema>;

/**
 * The JSON of an entry as stored in the stream's `entry` field (throws on what JSON cannot hold, e.g. a bigint).
 * `hidden` (lower-case field names, the predictor's `redactFields`) become `[REDACTED]` at any depth of the
 * input and output, as the logger redacts them; done here, at write time, off the request path.
 */
export function serializeEntry(entry: PredictionLogEntry, hidden: ReadonlySet<string> = new Set()): string {
  const stored = {
    request_id: entry.requestId,
    ...(entry.index === undefined ? {} : { index: entry.index }),
    time: new Date(entry.at).toISOString(),
    model: entry.model,
    input: entry.input,
    output: entry.output,
    latency_ms: Math.round(entry.latencyMs * 1000) / 1000,
  };
  if (hidden.size === 0) return JSON.stringify(stored);
  return JSON.stringify(stored, function (this: unknown, key: string, value: unknown) {
    // Declared fields of the instance's input and output only: the entry's own keys and its model reference stay.
    return this !== stored && this !== stored.model && hidden.has(key.toLowerCase()) ? REDACTED : value;
  });
}
