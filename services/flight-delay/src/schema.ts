import { z } from 'zod';

/** Largest distance we accept: the longest US domestic route (Honolulu–Boston) is about 5,100 miles. */
export const MAX_DISTANCE_MILES = 6000;
/** Smallest: a positive bound that float32 represents (5e-324 would become 0 miles in the model input). */
export const MIN_DISTANCE_MILES = 1;
/** Most instances in one `POST /v1/predict/batch`. */
export const MAX_BATCH_INSTANCES = 1000;

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?$/;

/** A real calendar date and clock time, written as local wall-clock time with no offset. */
function isRealLocalDateTime(value: string): boolean {
  const m = LOCAL_DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as number[];
  if (year! < 1900 || year! > 2100 || hour! > 23 || minute! > 59 || second! > 59) return false;
  const date = new Date(Date.UTC(year!, month! - 1, day!));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month! - 1 && date.getUTCDate() === day;
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
