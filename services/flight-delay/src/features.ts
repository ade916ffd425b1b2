import { UnprocessableEntityError } from '@predict/serving';
import { z } from 'zod';

/**
 * Request -> feature row. The ONE place features are computed: the service calls `featurize` per request
 * with the tables in model/<version>/features.json, and training/export.ts calls it for every parquet row
 * (with out-of-fold tables for training rows), so training and serving cannot drift apart.
 */

/**
 * Column order of the model input `features` [N, FEATURE_COUNT]; any change needs a retrain (features.json
 * records the names it was built for and parseFeatureTables refuses a mismatch). `month` is kept because
 * seasonality is real, but training covers January-May only, so trees read June (and later) as "late
 * spring"; day of month is left out (it would only learn Jan-May holidays).
 */
export const FEATURE_NAMES = [
  'origin_code', // frequency rank of the origin in the training split (0 = busiest)
  'destination_code', // frequency rank of the destination
  'departure_hour', // scheduled local departure, fractional hour 0..23.98
  'day_of_week', // 0 = Monday .. 6 = Sunday
  'month', // 1..12 of the scheduled departure
  'distance_miles', // request value, else great-circle distance between the airports
  'origin_delay_rate', // smoothed P(arrival delay >= 15) of flights leaving the origin
  'destination_delay_rate', // smoothed P(delayed) of flights arriving at the destination
  'route_delay_rate', // smoothed P(delayed) of the route, prior = mean of the two airport rates
  'origin_hour_delay_rate', // smoothed P(delayed) at the origin in this departure hour
  'destination_hour_delay_rate', // smoothed P(delayed) into the destination for this departure hour
  'route_hour_delay_rate', // smoothed P(delayed) of the route in this departure hour
  'origin_mean_delay', // smoothed mean arrival delay (minutes) of flights leaving the origin
  'destination_mean_delay', // smoothed mean arrival delay of flights arriving at the destination
  'route_mean_delay', // smoothed mean arrival delay of the route
  'route_hour_mean_delay', // smoothed mean arrival delay of the route in this departure hour
  'route_daily_flights', // flights per day on the route in the stats period (0 if never flown)
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export const FEATURE_COUNT = FEATURE_NAMES.length;
/** Column of each feature, e.g. `out[offset + COLUMN.distance_miles]`. */
export const COLUMN = Object.freeze(
  Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, i])) as Record<FeatureName, number>,
);

export const FEATURE_TABLES_FORMAT = 'flight-delay-features/1';
const HOURS = 24;
const EARTH_RADIUS_MILES = 3958.7613;
const DEG = Math.PI / 180;

/** What the model needs of a request; the service's zod schema has already checked the shapes. */
export interface FlightInput {
  /** 3-letter IATA code, upper case. */
  origin: string;
  destination: string;
  /** Local wall-clock time without offset: `YYYY-MM-DDTHH:MM` with optional `:SS[.fff]`. */
  scheduled_departure: string;
  distance_miles?: number | undefined;
}

// ---------------------------------------------------------------------------------------------------------
// features.json: raw sufficient statistics; smoothing happens in parseFeatureTables so the file stays small
// and the prior logic lives in one place.

const count = z.number().int().nonnegative();
/** [flights, delayed flights (arrival delay >= delayed_minutes), sum of arrival delay minutes] */
const stats = z.tuple([count, count, z.number()]);
/** Per departure hour 0..23: [flights, delayed flights]. */
const hourStats = z.array(z.tuple([count, count])).length(HOURS);
/** A route: all its flights, and [departure hour, flights, delayed, delay sum] for each hour it is flown. */
const routeSchema = z.object({
  all: stats,
  hours: z.array(z.tuple([z.number().int().min(0).max(HOURS - 1), count, count, z.number()])),
});

const airportSchema = z.object({
  code: count,
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  origin: stats,
  destination: stats,
  origin_hour: hourStats,
  destination_hour: hourStats,
});

const featureTablesSchema = z
  .object({
    format: z.literal(FEATURE_TABLES_FORMAT),
    feature_names: z.array(z.string()),
    delayed_minutes: z.number().positive(),
    /** Calendar days the statistics cover (turns route counts into flights per day). */
    days: z.number().int().positive(),
    /** Prior strength (pseudo-flights) of each smoothing step. */
    smoothing: z.object({
      airport: z.number().positive(),
      route: z.number().positive(),
      hour: z.number().positive(),
    }),
    global: z.object({ flights: z.number().int().positive(), delayed: count, delay_sum: z.number(), hour: hourStats }),
    airports: z.record(z.string().regex(/^[A-Z0-9]{3}$/), airportSchema),
    /** Keyed `ORG-DST`. */
    routes: z.record(z.string().regex(/^[A-Z0-9]{3}-[A-Z0-9]{3}$/), routeSchema),
  })
  .superRefine((t, ctx) => {
    if (t.feature_names.length !== FEATURE_COUNT || t.feature_names.some((n, i) => n !== FEATURE_NAMES[i])) {
      ctx.addIssue({
        code: 'custom',
        path: ['feature_names'],
        message: `tables were built for features [${t.feature_names.join(', ')}], this code computes [${FEATURE_NAMES.join(', ')}]`,
      });
    }
    const codes = new Set(Object.values(t.airports).map((a) => a.code));
    if (codes.size !== Object.keys(t.airports).length) {
      ctx.addIssue({ code: 'custom', path: ['airports'], message: 'airport codes must be unique' });
    }
    for (const key of Object.keys(t.routes)) {
      const [o, d] = key.split('-');
      if (o === undefined || d === undefined || !(o in t.airports) || !(d in t.airports)) {
        ctx.addIssue({ code: 'custom', path: ['routes', key], message: 'route names an airport missing from airports' });
      }
    }
  });

/** The JSON form of the tables, as written by training/export.ts. */
export type FeatureTablesJson = z.input<typeof featureTablesSchema>;
export type Stats = [flights: number, delayed: number, delaySum: number];
export type HourStats = Array<[flights: number, delayed: number]>;
export type RouteHourStats = Array<[hour: number, flights: number, delayed: number, delaySum: number]>;

// ---------------------------------------------------------------------------------------------------------
// Runtime form: everything request-independent is smoothed once here, so featurize is lookups and arithmetic.

/** One airport with its request-independent features already smoothed. */
export interface FeatureAirport {
  readonly index: number;
  readonly code: number;
  readonly sinLat: number;
  readonly cosLat: number;
  readonly lonRad: number;
  readonly originRate: number;
  readonly originMean: number;
  readonly destinationRate: number;
  readonly destinationMean: number;
  readonly originHourRate: Float64Array;
  readonly destinationHourRate: Float64Array;
}

export interface FeatureRoute {
  readonly rate: number;
  readonly mean: number;
  readonly dailyFlights: number;
  /** Per departure hour; hours without flights hold the prior. */
  readonly hourRate: Float64Array;
  readonly hourMean: Float64Array;
}

export interface FeatureTables {
  readonly airports: ReadonlyMap<string, FeatureAirport>;
  /** Keyed origin.index * airportCount + destination.index (no string building on the hot path). */
  readonly routes: ReadonlyMap<number, FeatureRoute>;
  readonly airportCount: number;
}

/** Bayesian (beta / normal-mean) smoothing: `prior` counts as `strength` pseudo-observations. */
function smooth(sum: number, n: number, prior: number, strength: number): number {
  return (sum + strength * prior) / (n + strength);
}

function hourRates(hours: HourStats, prior: Float64Array, strength: number): Float64Array {
  const out = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) {
    const [n, d] = hours[h] ?? [0, 0];
    out[h] = smooth(d, n, prior[h] ?? 0, strength);
  }
  return out;
}

/** Validates features.json (throws a ZodError) and precomputes the smoothed statistics. */
export function parseFeatureTables(json: unknown): FeatureTables {
  const t = featureTablesSchema.parse(json);
  const m = t.smoothing;
  const [gn, gd, gs] = [t.global.flights, t.global.delayed, t.global.delay_sum];
  const globalRate = gd / gn;
  const globalMean = gs / gn;
  const globalHourRate = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) {
    const [n, d] = t.global.hour[h] ?? [0, 0];
    globalHourRate[h] = smooth(d, n, globalRate, m.hour);
  }

  const airports = new Map<string, FeatureAirport>();
  let index = 0;
  for (const [iata, a] of Object.entries(t.airports)) {
    const originRate = smooth(a.origin[1], a.origin[0], globalRate, m.airport);
    const destinationRate = smooth(a.destination[1], a.destination[0], globalRate, m.airport);
    // The hour prior scales the airport's rate by the global hour-of-day profile.
    const originPrior = globalHourRate.map((r) => Math.min(1, (originRate * r) / globalRate));
    const destinationPrior = globalHourRate.map((r) => Math.min(1, (destinationRate * r) / globalRate));
    airports.set(iata, {
      index: index++,
      code: a.code,
      sinLat: Math.sin(a.latitude * DEG),
      cosLat: Math.cos(a.latitude * DEG),
      lonRad: a.longitude * DEG,
      originRate,
      originMean: smooth(a.origin[2], a.origin[0], globalMean, m.airport),
      destinationRate,
      destinationMean: smooth(a.destination[2], a.destination[0], globalMean, m.airport),
      originHourRate: hourRates(a.origin_hour, originPrior, m.hour),
      destinationHourRate: hourRates(a.destination_hour, destinationPrior, m.hour),
    });
  }

  const routes = new Map<number, FeatureRoute>();
  for (const [key, route] of Object.entries(t.routes)) {
    const o = airports.get(key.slice(0, 3));
    const x = airports.get(key.slice(4, 7));
    if (o === undefined || x === undefined) continue; // excluded by the schema refinement
    const [n, d, s] = route.all;
    const rate = smooth(d, n, routeRatePrior(o, x), m.route);
    const mean = smooth(s, n, routeMeanPrior(o, x), m.route);
    const hourRate = new Float64Array(HOURS);
    const hourMean = new Float64Array(HOURS).fill(mean);
    for (let h = 0; h < HOURS; h++) hourRate[h] = routeHourRatePrior(rate, o, h);
    for (const [h, hn, hd, hs] of route.hours) {
      hourRate[h] = smooth(hd, hn, hourRate[h] ?? rate, m.hour);
      hourMean[h] = smooth(hs, hn, mean, m.hour);
    }
    routes.set(o.index * airports.size + x.index, { rate, mean, dailyFlights: n / t.days, hourRate, hourMean });
  }
  return { airports, routes, airportCount: airports.size };
}

/** A route never flown in the stats period is as delayed as its two airports on average. */
function routeRatePrior(o: FeatureAirport, d: FeatureAirport): number {
  return 0.5 * (o.originRate + d.destinationRate);
}

function routeMeanPrior(o: FeatureAirport, d: FeatureAirport): number {
  return 0.5 * (o.originMean + d.destinationMean);
}

/** A route's rate in an hour it is not flown: its overall rate shaped by the origin's hour-of-day profile. */
function routeHourRatePrior(routeRate: number, o: FeatureAirport, hour: number): number {
  return Math.min(1, (routeRate * (o.originHourRate[hour] ?? o.originRate)) / o.originRate);
}

function greatCircleMiles(a: FeatureAirport, b: FeatureAirport): number {
  const c = a.sinLat * b.sinLat + a.cosLat * b.cosLat * Math.cos(a.lonRad - b.lonRad);
  return EARTH_RADIUS_MILES * Math.acos(Math.min(1, Math.max(-1, c)));
}

// ---------------------------------------------------------------------------------------------------------
// Hot path.

function unknownAirport(field: 'origin' | 'destination', value: string): UnprocessableEntityError {
  return new UnprocessableEntityError(`unknown airport '${value}'`, { field, value }, 'unknown_airport');
}

function badDeparture(value: string): UnprocessableEntityError {
  return new UnprocessableEntityError(
    `scheduled_departure '${value}' is not a local date-time YYYY-MM-DDTHH:MM`,
    { field: 'scheduled_departure', value },
    'invalid_scheduled_departure',
  );
}

/** Decimal value of s[from, from + len), or -1 if any character is not a digit. */
function digits(s: string, from: number, len: number): number {
  let v = 0;
  for (let i = from; i < from + len; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1; // NaN past the end of the string also fails both tests
    v = v * 10 + c;
  }
  return v;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Writes the FEATURE_COUNT features of one flight at out[offset..]. Throws UnprocessableEntityError for an
 * airport the model never saw in training (code `unknown_airport`), for origin === destination
 * (`same_airport`) and for a departure string that is not `YYYY-MM-DDTHH:MM...`.
 */
export function featurize(input: FlightInput, tables: FeatureTables, out: Float32Array, offset: number): void {
  if (offset < 0 || offset + FEATURE_COUNT > out.length) {
    throw new RangeError(`featurize: no room for ${FEATURE_COUNT} features at offset ${offset} of ${out.length}`);
  }
  const o = tables.airports.get(input.origin);
  if (o === undefined) throw unknownAirport('origin', input.origin);
  const d = tables.airports.get(input.destination);
  if (d === undefined) throw unknownAirport('destination', input.destination);
  if (o === d) {
    throw new UnprocessableEntityError(
      `origin and destination are both '${input.origin}'`,
      { field: 'destination', value: input.destination },
      'same_airport',
    );
  }

  const s = input.scheduled_departure;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  if (
    s.charCodeAt(4) !== 45 || // '-'
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 || // 'T'
    s.charCodeAt(13) !== 58 || // ':'
    year < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 31 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59
  ) {
    throw badDeparture(s);
  }
  // 1970-01-01 was a Thursday (3 when Monday = 0).
  const dayOfWeek = (((daysFromCivil(year, month, day) + 3) % 7) + 7) % 7;

  const c = COLUMN;
  out[offset + c.origin_code] = o.code;
  out[offset + c.destination_code] = d.code;
  out[offset + c.departure_hour] = hour + minute / 60;
  out[offset + c.day_of_week] = dayOfWeek;
  out[offset + c.month] = month;
  out[offset + c.distance_miles] = input.distance_miles ?? greatCircleMiles(o, d);
  out[offset + c.origin_delay_rate] = o.originRate;
  out[offset + c.destination_delay_rate] = d.destinationRate;
  out[offset + c.origin_hour_delay_rate] = o.originHourRate[hour] ?? o.originRate;
  out[offset + c.destination_hour_delay_rate] = d.destinationHourRate[hour] ?? d.destinationRate;
  out[offset + c.origin_mean_delay] = o.originMean;
  out[offset + c.destination_mean_delay] = d.destinationMean;
  const route = tables.routes.get(o.index * tables.airportCount + d.index);
  if (route === undefined) {
    // Never flown in the statistics period: the route falls back to its airports.
    const rate = routeRatePrior(o, d);
    const mean = routeMeanPrior(o, d);
    out[offset + c.route_delay_rate] = rate;
    out[offset + c.route_hour_delay_rate] = routeHourRatePrior(rate, o, hour);
    out[offset + c.route_mean_delay] = mean;
    out[offset + c.route_hour_mean_delay] = mean;
    out[offset + c.route_daily_flights] = 0;
  } else {
    out[offset + c.route_delay_rate] = route.rate;
    out[offset + c.route_hour_delay_rate] = route.hourRate[hour] ?? route.rate;
    out[offset + c.route_mean_delay] = route.mean;
    out[offset + c.route_hour_mean_delay] = route.hourMean[hour] ?? route.mean;
    out[offset + c.route_daily_flights] = route.dailyFlights;
  }
}
