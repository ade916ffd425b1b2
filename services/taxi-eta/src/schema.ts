import { z } from 'zod';
import { parseLocalTime } from './local-time';

/** Most instances in one `POST /v1/eta/batch`. */
export const MAX_BATCH_INSTANCES = 1000;

const OFFSET = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:\d{2})$/;

/** New York's wall clock at an instant: what the model's hour / weekday features mean. */
const NEW_YORK = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'America/New_York',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** A real calendar date and clock time (parseLocalTime), in the years the service answers for. */
const isRealLocal = (value: string) => {
  const t = parseLocalTime(value);
  return t !== undefined && t.year >= 2000 && t.year <= 2100;
};

/**
 * `pickup_time` → New York local time `YYYY-MM-DDTHH:MM:SS`. Without an offset it already is New York time;
 * with `Z` or `±HH:MM` it is converted. Anything else is not a real ISO 8601 date-time.
 */
export function newYorkLocalTime(value: string): string | undefined {
  const withOffset = OFFSET.exec(value);
  if (withOffset) {
    if (!isRealLocal(withOffset[1] as string)) return undefined;
    const instant = new Date(value);
    if (Number.isNaN(instant.getTime())) return undefined;
    const parts = Object.fromEntries(NEW_YORK.formatToParts(instant).map((p) => [p.type, p.value]));
    return `${parts['year']}-${parts['month']}-${parts['day']}T${parts['hour']}:${parts['minute']}:${parts['second']}`;
  }
  if (!isRealLocal(value)) return undefined;
  const [date, time] = value.split('T') as [string, string];
  const [hh, mm, ss] = time.split(':');
  return `${date}T${hh}:${mm}:${(ss ?? '00').slice(0, 2)}`;
}

const point = (what: string) =>
  z
    .object({
      lat: z.number().min(-90).max(90).describe(`${what} latitude, WGS 84 degrees`),
      lon: z.number().min(-180).max(180).describe(`${what} longitude, WGS 84 degrees`),
    })
    .strict();

/** One trip to time: the public request contract of `POST /v1/eta`. */
export const etaRequestSchema = z
  .object({
    pickup: point('pickup'),
    dropoff: point('dropoff'),
    pickup_time: z
      .string()
      .transform((v, ctx) => {
        const local = newYorkLocalTime(v);
        if (local === undefined) {
          ctx.addIssue({ code: 'custom', message: 'must be a real ISO 8601 date-time, e.g. 2016-06-12T08:15 (New York time) or 2016-06-12T12:15:00Z' });
          return z.NEVER;
        }
        return local;
      })
      .describe('Pickup time: ISO 8601; without an offset it is New York local time'),
    passenger_count: z.number().int().min(1).max(9).optional().describe('Passengers (1-9); 1 when absent'),
    vendor_id: z.union([z.literal(1), z.literal(2)]).optional().describe('Taxi vendor (1 or 2); 1 when absent'),
  })
  .strict();

/** One answer (the service adds `model`). */
export const etaPredictionSchema = z.object({
  eta_seconds: z.number().nonnegative().describe('Expected trip duration in seconds'),
  eta_interval_seconds: z.tuple([z.number(), z.number()]).describe('[p10, p90]: 80 % of trips like this one take between these'),
  distance_km: z.number().nonnegative().describe('Great-circle distance between pickup and dropoff'),
});

export type EtaRequest = z.output<typeof etaRequestSchema>;
export type EtaPrediction = z.output<typeof etaPredictionSchema>;
