import winston from 'winston';

export type { Logger } from 'winston';

/** Keys whose values never reach a log line, at any depth. */
const SECRET_KEYS = new Set(['authorization', 'x-api-key', 'api_key', 'apikey', 'password', 'secret', 'token']);

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) ? '[redacted]' : redactValue(v, depth + 1);
  }
  return out;
}

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.has(key.toLowerCase())) info[key] = '[redacted]';
    else if (typeof info[key] === 'object') info[key] = redactValue(info[key], 0);
  }
  return info;
});

const MESSAGE = Symbol.for('message');
const stableJson = winston.format.json();

/**
 * JSON lines with plain JSON.stringify: about half the cost of logform's json() (which sorts keys with
 * safe-stable-stringify) on the access-log hot path. Values JSON.stringify refuses (cycles, BigInt) fall back
 * to logform's safe serializer.
 */
const fastJson = winston.format((info) => {
  try {
    (info as Record<symbol, unknown>)[MESSAGE] = JSON.stringify(info);
    return info;
  } catch {
    return stableJson.transform(info, stableJson.options);
  }
});

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where lines go; standard output unless a test passes a stream. */
  stream?: NodeJS.WritableStream;
}

/**
 * The one logger factory: JSON lines with timestamp, level, service and message. Components take child
 * loggers (`logger.child({ component: 'batcher' })`); request-scoped lines carry `request_id`.
 */
export function createLogger({ service, level = 'info', stream }: LoggerOptions): winston.Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(winston.format.timestamp(), redact(), fastJson()),
    transports: [
      stream
        ? new winston.transports.Stream({ stream })
        : new winston.transports.Console({ stderrLevels: [] }),
    ],
  });
}
