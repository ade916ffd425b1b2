import { UnprocessableEntityError } from '@predict/serving';
import { isFederalHoliday, parseLocalTime, type LocalTime } from './local-time';
import { AIRPORTS, MIDTOWN, ZONES, assertInServiceArea, type LatLon } from './service-area';

/**
 * Request -> feature row. The ONE place features are computed: the service calls `featurize` per request and
 * training/export.ts calls it for every trip of the training CSV, so training and serving cannot drift apart.
 * No tables: everything comes from the request and the geography in service-area.ts.
 */

/** Column order of the model input `features` [N, FEATURE_COUNT]; any change needs a retrain. */
export const FEATURE_NAMES = [
  'pickup_lat',
  'pickup_lon',
  'dropoff_lat',
  'dropoff_lon',
  'haversine_km', // great-circle distance
  'manhattan_km', // |along| + |across| in Manhattan's street grid (rotated 29 degrees east of north)
  'grid_along_km', // signed, along the avenues (uptown positive)
  'grid_across_km', // signed, along the streets (east side positive)
  'bearing_deg', // initial bearing 0..360 (0 = north; 0 when pickup equals dropoff)
  'pickup_hour', // local fractional hour 0..23.98
  'day_of_week', // 0 = Monday .. 6 = Sunday
  'week_hour', // day_of_week * 24 + pickup_hour: the weekly traffic cycle in one feature
  'month', // 1..12
  'is_holiday', // 1 on US federal holidays (and their observed weekdays)
  'pickup_airport', // 0 none, 1 JFK, 2 LGA, 3 EWR
  'dropoff_airport',
  'pickup_zone', // index of the nearest ZONES centroid
  'dropoff_zone',
  'pickup_center_km', // distance from Times Square
  'dropoff_center_km',
  'passenger_count', // 1 when absent
  'vendor_id', // 2 (the larger vendor) when absent
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export const FEATURE_COUNT = FEATURE_NAMES.length;
/** Column of each feature, e.g. `out[offset + COLUMN.haversine_km]`. */
export const COLUMN = Object.freeze(
  Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, i])) as Record<FeatureName, number>,
);

/** Values written when the request leaves them out (the most common ones in the training data). */
export const DEFAULT_PASSENGER_COUNT = 1;
export const DEFAULT_VENDOR_ID = 2;

/** What the model needs of a request; the service's zod schema has already checked the shapes. */
export interface TripInput {
  readonly pickup: LatLon;
  readonly dropoff: LatLon;
  /** Local New York wall-clock time without offset: `YYYY-MM-DDTHH:MM` with optional `:SS[.fff]`. */
  readonly pickup_time: string;
  readonly passenger_count?: number | undefined;
  readonly vendor_id?: number | undefined;
}

const EARTH_RADIUS_KM = 6371.0088;
const DEG = Math.PI / 180;
/** Local flat projection around midtown: km per degree of latitude and of longitude at 40.75 N. */
const KM_PER_DEG_LAT = 111.05;
const KM_PER_DEG_LON = 111.32 * Math.cos(40.75 * DEG);
/** Manhattan's avenues run about 29 degrees east of true north. */
export const GRID_ROTATION_DEG = 29;
const GRID_SIN = Math.sin(GRID_ROTATION_DEG * DEG);
const GRID_COS = Math.cos(GRID_ROTATION_DEG * DEG);

export function haversineKm(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * DEG;
  const dLon = (b.lon - a.lon) * DEG;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * DEG) * Math.cos(b.lat * DEG) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial great-circle bearing from a to b in degrees [0, 360); 0 when the points coincide. */
export function bearingDeg(a: LatLon, b: LatLon): number {
  if (a.lat === b.lat && a.lon === b.lon) return 0;
  const p1 = a.lat * DEG;
  const p2 = b.lat * DEG;
  const dLon = (b.lon - a.lon) * DEG;
  const y = Math.sin(dLon) * Math.cos(p2);
  const x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(dLon);
  const deg = Math.atan2(y, x) / DEG;
  return deg < 0 ? deg + 360 : deg;
}

/** Displacement from a to b in km on the local flat projection: [east, north]. */
function displacementKm(a: LatLon, b: LatLon): [east: number, north: number] {
  return [(b.lon - a.lon) * KM_PER_DEG_LON, (b.lat - a.lat) * KM_PER_DEG_LAT];
}

/** Displacement from a to b in Manhattan's grid frame: [along the avenues, across them] in km. */
export function gridDisplacementKm(a: LatLon, b: LatLon): [along: number, across: number] {
  const [east, north] = displacementKm(a, b);
  return [east * GRID_SIN + north * GRID_COS, east * GRID_COS - north * GRID_SIN];
}

/** Squared flat-projection distance in km² from p to (lat, lon): nearest-zone and airport tests need no roots. */
function flatKm2(p: LatLon, lat: number, lon: number): number {
  const east = (lon - p.lon) * KM_PER_DEG_LON;
  const north = (lat - p.lat) * KM_PER_DEG_LAT;
  return east * east + north * north;
}

const ZONE_LAT = Float64Array.from(ZONES, (z) => z.lat);
const ZONE_LON = Float64Array.from(ZONES, (z) => z.lon);

/** Code of the airport whose radius holds p (1 JFK, 2 LGA, 3 EWR), else 0. */
export function airportOf(p: LatLon): number {
  for (const a of AIRPORTS) if (flatKm2(p, a.lat, a.lon) <= a.radiusKm * a.radiusKm) return a.code;
  return 0;
}

/** Index in ZONES of the nearest centroid (the first one on a tie). */
export function zoneOf(p: LatLon): number {
  let best = 0;
  let bestKm2 = Infinity;
  for (let i = 0; i < ZONE_LAT.length; i++) {
    const d = flatKm2(p, ZONE_LAT[i] ?? 0, ZONE_LON[i] ?? 0);
    if (d < bestKm2) {
      bestKm2 = d;
      best = i;
    }
  }
  return best;
}

/** Parses `pickup_time`; a 422 `invalid_pickup_time` when it is not a real local date-time. */
export function pickupTimeOf(input: Pick<TripInput, 'pickup_time'>): LocalTime {
  const t = parseLocalTime(input.pickup_time);
  if (t === undefined) {
    throw new UnprocessableEntityError(
      `pickup_time '${input.pickup_time}' is not a local date-time YYYY-MM-DDTHH:MM[:SS]`,
      { field: 'pickup_time', value: input.pickup_time },
      'invalid_pickup_time',
    );
  }
  return t;
}

/**
 * Writes the FEATURE_COUNT features of one trip at out[offset..]. Throws UnprocessableEntityError for a
 * pickup or dropoff outside the service area (`outside_service_area`, naming the field) and for a
 * pickup_time that is not a real local date-time (`invalid_pickup_time`). A trip whose pickup equals its
 * dropoff is a valid row: distances 0, bearing 0.
 */
export function featurize(input: TripInput, out: Float32Array, offset: number): void {
  if (offset < 0 || offset + FEATURE_COUNT > out.length) {
    throw new RangeError(`featurize: no room for ${FEATURE_COUNT} features at offset ${offset} of ${out.length}`);
  }
  assertInServiceArea(input);
  const t = pickupTimeOf(input);
  const { pickup, dropoff } = input;
  const [along, across] = gridDisplacementKm(pickup, dropoff);
  const hour = t.hour + t.minute / 60;

  const c = COLUMN;
  out[offset + c.pickup_lat] = pickup.lat;
  out[offset + c.pickup_lon] = pickup.lon;
  out[offset + c.dropoff_lat] = dropoff.lat;
  out[offset + c.dropoff_lon] = dropoff.lon;
  out[offset + c.haversine_km] = haversineKm(pickup, dropoff);
  out[offset + c.manhattan_km] = Math.abs(along) + Math.abs(across);
  out[offset + c.grid_along_km] = along;
  out[offset + c.grid_across_km] = across;
  out[offset + c.bearing_deg] = bearingDeg(pickup, dropoff);
  out[offset + c.pickup_hour] = hour;
  out[offset + c.day_of_week] = t.dayOfWeek;
  out[offset + c.week_hour] = t.dayOfWeek * 24 + hour;
  out[offset + c.month] = t.month;
  out[offset + c.is_holiday] = isFederalHoliday(t.year, t.month, t.day) ? 1 : 0;
  out[offset + c.pickup_airport] = airportOf(pickup);
  out[offset + c.dropoff_airport] = airportOf(dropoff);
  out[offset + c.pickup_zone] = zoneOf(pickup);
  out[offset + c.dropoff_zone] = zoneOf(dropoff);
  out[offset + c.pickup_center_km] = haversineKm(pickup, MIDTOWN);
  out[offset + c.dropoff_center_km] = haversineKm(dropoff, MIDTOWN);
  out[offset + c.passenger_count] = input.passenger_count ?? DEFAULT_PASSENGER_COUNT;
  out[offset + c.vendor_id] = input.vendor_id ?? DEFAULT_VENDOR_ID;
}
