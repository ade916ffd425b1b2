import { z } from 'zod';

/** Largest distance we accept: the longest US domestic route (Honolulu–Boston) is about 5,100 miles. */
export const MAX_DISTANCE_MILES = 6000;
/** Smallest: a positive bound that float32 represents (5e-324 would become 0 miles in the model input). */
export const MIN_DISTANCE_MILES = 1;
/** Most instances in one `POST /v1/predict/batch`. */
export const MAX_BATCH_INSTANCES = 1000;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Decimal value of value[from, from + len), or -1 if any of those characters is not an ASCII digit (or is past the end). */
function digitsAt(value: string, from: number, len: number): number {
  let v = 0;
  for (let i = from; i < from + len; i++) {
    const c = value.charCodeAt(i) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * A real calendar date and clock time, written as local wall-clock time with no offset:
 * `YYYY-MM-DDTHH:MM`, optionally `:SS` and `.` with 1 to 9 fraction digits; year 1900-2100. Scanned by
 * character (no regex, no Date): it runs for every instance of a million-row job.
 */
export function isRealLocalDateTime(value: string): boolean {
  const n = value.length;
  if (n !== 16 && n !== 19 && (n < 21 || n > 29)) return false;
  if (value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45 || value.charCodeAt(10) !== 84 || value.charCodeAt(13) !== 58) return false; // - - T :
  const year = digitsAt(value, 0, 4);
  const month = digitsAt(value, 5, 2);
  const day = digitsAt(value, 8, 2);
  const hour = digitsAt(value, 11, 2);
  const minute = digitsAt(value, 14, 2);
  if (year < 1900 || year > 2100 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) return false;
  if (n > 16) {
    const second = digitsAt(value, 17, 2);
    if (value.charCodeAt(16) !== 58 || second < 0 || second > 59) return false; // ':'
    if (n > 19 && (value.charCodeAt(19) !== 46 || digitsAt(value, 20, n - 20) < 0)) return false; // '.'
  }
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (DAYS_IN_MONTH[month - 1] as number) + (leap ? 1 : 0);
}

const airport = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'must be a 3-letter IATA airport code')
  .transform((code) => code.toUpperCase())
  .meta({ example: 'ORD' });

/** One flight to predict: the public request contract of `POST /v1/predict`. */
export const flightRequestSchema = z
  .object({
    origin: airport.describe('IATA code of the departure airport'),
    destination: airport.describe('IATA code of the arrival airport'),
    scheduled_departure: z
      .string()
      .refine(isRealLocalDateTime, {
        message: 'must be a real local date-time in ISO 8601 without offset, e.g. 2001-06-15T14:30',
      })
      .describe('Scheduled departure, local time at the origin airport (no offset)'),
    distance_miles: z
      .number()
      .min(MIN_DISTANCE_MILES, `must be at least ${MIN_DISTANCE_MILES} mile (the shortest scheduled US routes are tens of miles)`)
      .max(MAX_DISTANCE_MILES)
      .optional()
      .describe('Route distance; the great-circle distance between the airports when absent'),
  })
  .strict();

/** One prediction: the public response contract (the service adds `model`). */
export const flightPredictionSchema = z.object({
  probability_delayed: z.number().min(0).max(1).describe('P(arrival delay >= 15 minutes), the US DOT definition'),
  expected_delay_minutes: z.number().describe('Expected arrival delay in minutes (negative: early)'),
});

export type FlightRequest = z.output<typeof flightRequestSchema>;
export type FlightPrediction = z.output<typeof flightPredictionSchema>;
