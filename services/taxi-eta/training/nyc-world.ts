/**
 * The hidden "world" of the synthetic trip generator (training/generate.ts): where New York taxi trips start
 * and end, how long the streets between them take at each hour of the week, and how the meter's record departs
 * from that. The model never sees this file; it learns from the CSV the generator writes. Numbers are rough
 * public figures (TLC trip-record shares, DOT average Manhattan speeds of 11-13 km/h by day, the 2016
 * blizzard), picked to be plausible, not measured.
 */
import { isFederalHoliday } from '../src/local-time';

export type Borough = 'manhattan' | 'brooklyn' | 'queens' | 'bronx' | 'staten' | 'nj' | 'jfk' | 'lga' | 'ewr';
type Kind = 'business' | 'residential' | 'nightlife' | 'transit';

export interface Point {
  lat: number;
  lon: number;
}

// ---------------------------------------------------------------------------------------------------------
// Geography.

const DEG = Math.PI / 180;
const KM_PER_DEG_LAT = 111.05;
const KM_PER_DEG_LON = 111.32 * Math.cos(40.75 * DEG);
const GRID_SIN = Math.sin(29 * DEG);
const GRID_COS = Math.cos(29 * DEG);

export function toKm(p: Point): [x: number, y: number] {
  return [(p.lon + 73.98) * KM_PER_DEG_LON, (p.lat - 40.75) * KM_PER_DEG_LAT];
}

export function fromKm(x: number, y: number): Point {
  return { lat: 40.75 + y / KM_PER_DEG_LAT, lon: -73.98 + x / KM_PER_DEG_LON };
}

export function flatKm(a: Point, b: Point): number {
  const [ax, ay] = toKm(a);
  const [bx, by] = toKm(b);
  return Math.hypot(bx - ax, by - ay);
}

/** Manhattan's street-grid distance (avenues 29 degrees east of north). */
function gridKm(a: Point, b: Point): number {
  const [ax, ay] = toKm(a);
  const [bx, by] = toKm(b);
  const dx = bx - ax;
  const dy = by - ay;
  return Math.abs(dx * GRID_SIN + dy * GRID_COS) + Math.abs(dx * GRID_COS - dy * GRID_SIN);
}

/** Manhattan island's shoreline, (lon, lat) clockwise from the Battery: a rough polygon, enough to keep points on land. */
const MANHATTAN: ReadonlyArray<readonly [number, number]> = [
  [-74.0194, 40.7003], [-74.0165, 40.709], [-74.014, 40.719], [-74.013, 40.728], [-74.011, 40.74],
  [-74.009, 40.754], [-74.002, 40.762], [-73.996, 40.772], [-73.988, 40.783], [-73.98, 40.794],
  [-73.97, 40.808], [-73.961, 40.821], [-73.952, 40.833], [-73.945, 40.846], [-73.938, 40.858],
  [-73.93, 40.87], [-73.926, 40.878], [-73.91, 40.874], [-73.925, 40.858], [-73.933, 40.835],
  [-73.934, 40.81], [-73.929, 40.798], [-73.941, 40.778], [-73.958, 40.759], [-73.97, 40.744],
  [-73.972, 40.733], [-73.975, 40.718], [-73.978, 40.711], [-73.998, 40.708], [-74.009, 40.702],
];

function inPolygon(p: Point, polygon: ReadonlyArray<readonly [number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i] ?? [0, 0];
    const [xj, yj] = polygon[j] ?? [0, 0];
    if (yi > p.lat !== yj > p.lat && p.lon < ((xj - xi) * (p.lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export const inManhattan = (p: Point): boolean => inPolygon(p, MANHATTAN);

/** The Brooklyn-Queens line as (lat, lon) from Newtown Creek south to Jamaica Bay; Brooklyn lies west of it. */
const BROOKLYN_QUEENS: ReadonlyArray<readonly [number, number]> = [
  [40.739, -73.962], [40.712, -73.925], [40.69, -73.9], [40.68, -73.87], [40.65, -73.855], [40.58, -73.85],
];

function brooklynQueensLineLon(lat: number): number {
  const line = BROOKLYN_QUEENS;
  for (let i = 1; i < line.length; i++) {
    const [lat0, lon0] = line[i - 1] ?? [0, 0];
    const [lat1, lon1] = line[i] ?? [0, 0];
    if (lat <= lat0 && lat >= lat1) return lon0 + ((lat - lat0) / (lat1 - lat0)) * (lon1 - lon0);
  }
  return lat > (line[0]?.[0] ?? 0) ? -Infinity : (line[line.length - 1]?.[1] ?? 0);
}

export const AIRPORT_CENTERS: Record<'jfk' | 'lga' | 'ewr', Point & { radiusKm: number; accessMinutes: number }> = {
  jfk: { lat: 40.6441, lon: -73.7822, radiusKm: 2.2, accessMinutes: 4.5 },
  lga: { lat: 40.7747, lon: -73.8719, radiusKm: 1.3, accessMinutes: 3 },
  ewr: { lat: 40.6895, lon: -74.1745, radiusKm: 2.0, accessMinutes: 4 },
};

export function boroughOf(p: Point): Borough {
  for (const code of ['jfk', 'lga', 'ewr'] as const) {
    const a = AIRPORT_CENTERS[code];
    if (flatKm(p, a) <= a.radiusKm) return code;
  }
  if (inManhattan(p)) return 'manhattan';
  if (p.lon < -74.05 && p.lat < 40.65) return 'staten';
  if (p.lon < -74.025 && p.lat >= 40.65) return 'nj';
  if (p.lat > 40.8 && p.lon < -73.78) return 'bronx';
  return p.lon < brooklynQueensLineLon(p.lat) ? 'brooklyn' : 'queens';
}

// ---------------------------------------------------------------------------------------------------------
// Demand: hotspots with a spread, a kind (which sets their hour-of-day profile) and a base weight.

export interface Hotspot extends Point {
  name: string;
  sigmaKm: number;
  kind: Kind;
  weight: number;
  manhattan: boolean;
}

const spot = (name: string, lat: number, lon: number, sigmaKm: number, kind: Kind, weight: number): Hotspot => ({
  name, lat, lon, sigmaKm, kind, weight, manhattan: inManhattan({ lat, lon }),
});

export const HOTSPOTS: readonly Hotspot[] = [
  spot('times-square', 40.758, -73.9855, 0.55, 'business', 10),
  spot('grand-central', 40.7527, -73.9772, 0.5, 'business', 9),
  spot('columbus-circle', 40.766, -73.98, 0.5, 'business', 6),
  spot('penn-station', 40.7506, -73.9935, 0.3, 'transit', 5),
  spot('murray-hill', 40.744, -73.98, 0.5, 'residential', 5),
  spot('chelsea-flatiron', 40.742, -73.998, 0.55, 'nightlife', 7),
  spot('west-village', 40.733, -74.003, 0.45, 'nightlife', 6),
  spot('east-village', 40.727, -73.984, 0.45, 'nightlife', 6),
  spot('lower-east-side', 40.719, -73.988, 0.4, 'nightlife', 4),
  spot('soho-tribeca', 40.721, -74.004, 0.5, 'business', 5),
  spot('financial-district', 40.708, -74.009, 0.45, 'business', 4),
  spot('upper-east-side', 40.774, -73.957, 0.8, 'residential', 10),
  spot('upper-west-side', 40.786, -73.976, 0.8, 'residential', 8),
  spot('harlem', 40.809, -73.947, 0.8, 'residential', 1.5),
  spot('washington-heights', 40.845, -73.938, 0.8, 'residential', 0.5),
  spot('williamsburg', 40.715, -73.956, 0.8, 'nightlife', 2),
  spot('downtown-brooklyn', 40.692, -73.988, 0.6, 'business', 1.2),
  spot('park-slope', 40.672, -73.979, 0.8, 'residential', 0.9),
  spot('bed-stuy', 40.687, -73.941, 1, 'residential', 0.6),
  spot('crown-heights', 40.668, -73.945, 1, 'residential', 0.4),
  spot('south-brooklyn', 40.615, -73.99, 1.5, 'residential', 0.2),
  spot('long-island-city', 40.747, -73.945, 0.7, 'business', 0.8),
  spot('astoria', 40.764, -73.923, 0.8, 'residential', 0.8),
  spot('jackson-heights', 40.752, -73.885, 0.8, 'residential', 0.3),
  spot('flushing', 40.759, -73.83, 0.8, 'business', 0.2),
  spot('forest-hills-jamaica', 40.71, -73.82, 1.2, 'residential', 0.2),
  spot('south-bronx', 40.818, -73.917, 1, 'residential', 0.25),
  spot('fordham', 40.862, -73.89, 1.2, 'residential', 0.15),
  spot('staten-island', 40.6, -74.12, 2.5, 'residential', 0.03),
  spot('jersey-city-hoboken', 40.728, -74.04, 0.8, 'residential', 0.08),
];

export const AIRPORT_SPOTS: Record<'jfk' | 'lga' | 'ewr', Hotspot> = {
  jfk: spot('jfk', 40.6441, -73.7822, 0.6, 'transit', 0),
  lga: spot('lga', 40.774, -73.872, 0.35, 'transit', 0),
  ewr: spot('ewr', 40.6895, -74.1745, 0.5, 'transit', 0),
};

/** Share of airport trips by airport (JFK, LGA, EWR). */
export const AIRPORT_SHARE = { jfk: 0.55, lga: 0.4, ewr: 0.05 };

function bump(hour: number, center: number, width: number): number {
  const d = Math.min(Math.abs(hour - center), 24 - Math.abs(hour - center));
  return Math.exp(-0.5 * (d / width) ** 2);
}

/** Relative weight of a hotspot kind as a pickup (or a dropoff) at an hour of a weekday or weekend. */
export function kindWeight(kind: Kind, hour: number, weekend: boolean, role: 'pickup' | 'dropoff'): number {
  const pickup = role === 'pickup';
  switch (kind) {
    case 'residential':
      return 1 + 0.9 * bump(hour, pickup ? 8 : 19, pickup ? 2 : 3) + (pickup ? 0 : 0.8 * bump(hour, 1, 2.5));
    case 'business':
      return (weekend ? 0.6 : 1) * (1 + 0.9 * bump(hour, pickup ? 18 : 9, pickup ? 2.5 : 2));
    case 'nightlife':
      return (weekend ? 1.4 : 1) * (1 + (pickup ? 2 * bump(hour, 1, 2.5) : 1.5 * bump(hour, 21, 2.5)));
    case 'transit':
      return weekend ? 1 : 1 + 0.5 * bump(hour, 8.5, 1.5) + 0.5 * bump(hour, 17.5, 1.5);
  }
}

/** Trips per hour of the day, relative (weekday; weekend and holidays). */
const WEEKDAY_DEMAND = [0.55, 0.38, 0.27, 0.2, 0.17, 0.2, 0.45, 0.75, 0.9, 0.9, 0.85, 0.87, 0.92, 0.92, 0.95, 0.93, 0.85, 1, 1.15, 1.15, 1.05, 1.05, 1, 0.8];
const WEEKEND_DEMAND = [0.95, 0.85, 0.7, 0.55, 0.4, 0.25, 0.2, 0.25, 0.4, 0.6, 0.75, 0.85, 0.9, 0.92, 0.9, 0.88, 0.85, 0.88, 0.92, 0.9, 0.85, 0.85, 0.88, 0.9];

export function hourDemand(dayOfWeek: number, holiday: boolean): number[] {
  if (dayOfWeek === 6 || holiday) return WEEKEND_DEMAND.map((w, h) => (h >= 20 ? 0.8 * w : w)); // Sunday evenings are quiet
  if (dayOfWeek === 5) return WEEKEND_DEMAND;
  if (dayOfWeek === 4) return WEEKDAY_DEMAND.map((w, h) => (h >= 19 ? 1.15 * w : w)); // Friday night
  return WEEKDAY_DEMAND;
}

/** Trips per day, relative, by day of week (Monday first). */
export const DAY_DEMAND = [0.92, 0.98, 1, 1.04, 1.08, 1.06, 0.9];

/** Probability that a trip goes to (and, separately, comes from) an airport, by hour. */
export function airportShare(hour: number, direction: 'to' | 'from'): number {
  return direction === 'to' ? 0.025 * (0.7 + 0.9 * bump(hour, 6.5, 2) + 0.4 * bump(hour, 15, 3)) : 0.025 * (0.6 + 0.8 * bump(hour, 18, 4));
}

// ---------------------------------------------------------------------------------------------------------
// Travel time: route distance (grid in Manhattan, detours elsewhere) over hour-of-week speeds, plus
// bridge/tunnel crossings and airport access roads.

const interpolate = (table: readonly number[], hour: number): number => {
  const h0 = Math.floor(hour) % 24;
  const f = hour - Math.floor(hour);
  return (table[h0] ?? 0) * (1 - f) + (table[(h0 + 1) % 24] ?? 0) * f;
};

/** Manhattan street speed km/h along the route (the grid walk) by hour: weekdays, weekends/holidays. */
const CORE_WEEKDAY = [31, 33, 35, 36, 37, 35, 28, 20, 16.5, 15.5, 15.5, 15, 15, 15, 14.5, 14, 14.5, 14.5, 15, 17, 19.5, 21.5, 23.5, 27];
const CORE_WEEKEND = [26, 28, 31, 33, 36, 37, 36, 33, 31, 26, 22, 19.5, 18.5, 17.5, 17.5, 17.5, 18, 18, 19, 19.5, 21, 22, 23.5, 25];
/** Expressway speed km/h (Van Wyck, BQE, FDR, Grand Central). */
const HIGHWAY_WEEKDAY = [65, 68, 70, 70, 68, 60, 45, 30, 27, 32, 44, 48, 48, 48, 42, 34, 28, 27, 30, 40, 50, 56, 60, 63];
const HIGHWAY_WEEKEND = [60, 62, 65, 66, 68, 68, 66, 62, 58, 52, 46, 42, 40, 40, 40, 40, 40, 42, 45, 50, 54, 56, 58, 60];
/** Rush-hour weight 0..1 of crossings (bridges and tunnels) on weekdays. */
const CROSSING_RUSH = [0, 0, 0, 0, 0, 0.1, 0.5, 0.9, 1, 0.8, 0.5, 0.4, 0.4, 0.4, 0.5, 0.8, 1, 1, 0.8, 0.5, 0.3, 0.2, 0.1, 0];

/** Traffic grows through the spring: travel-time factor by month (January first). */
const MONTH_FACTOR = [1, 1.01, 1.03, 1.04, 1.05, 1.06, 1.05, 1.04, 1.06, 1.06, 1.07, 1.08];

const MIDTOWN_CORE: Point = { lat: 40.755, lon: -73.982 };

function detourOf(a: Borough, b: Borough): number {
  const pair = [a, b].sort().join('-');
  const table: Record<string, number> = {
    'brooklyn-manhattan': 1.28, 'manhattan-queens': 1.27, 'bronx-manhattan': 1.25, 'manhattan-nj': 1.35,
    'manhattan-staten': 1.55, 'jfk-manhattan': 1.22, 'lga-manhattan': 1.2, 'ewr-manhattan': 1.3,
    'brooklyn-queens': 1.3, 'bronx-queens': 1.35, 'bronx-brooklyn': 1.38, 'brooklyn-staten': 1.3,
  };
  return table[pair] ?? (a === b ? 1.32 : 1.35);
}

/** Penalty minutes of crossing water between boroughs (bridge or tunnel queues), weekday rush weighted. */
function crossingMinutes(a: Borough, b: Borough, rush: number): number {
  if (a === b) return 0;
  const water = (x: Borough): string => (x === 'manhattan' ? 'm' : x === 'nj' || x === 'ewr' ? 'nj' : x === 'staten' ? 's' : x === 'bronx' ? 'bx' : 'li');
  const [wa, wb] = [water(a), water(b)];
  if (wa === wb) return 0;
  let minutes = 1.5 + 6 * rush;
  if (wa === 'nj' || wb === 'nj') minutes += 3 + 6 * rush; // Hudson tunnels
  if (wa === 's' || wb === 's') minutes += 2 + 3 * rush; // Verrazzano
  return minutes;
}

/** Share of a trip's straight line that runs over Manhattan (17 samples). */
function manhattanShare(a: Point, b: Point): number {
  let n = 0;
  for (let k = 0; k <= 16; k++) {
    const t = k / 16;
    if (inManhattan({ lat: a.lat + t * (b.lat - a.lat), lon: a.lon + t * (b.lon - a.lon) })) n++;
  }
  return n / 17;
}

export interface TripContext {
  readonly hour: number; // fractional local hour
  readonly weekend: boolean; // Saturday, Sunday or a federal holiday
  readonly month: number; // 1..12
  readonly passengers: number;
  readonly vendor: number;
}

/**
 * The noise-free duration in seconds of a trip between two points (before the per-day and per-trip noise,
 * which generate.ts applies and centres). Deterministic in its arguments.
 */
export function travelSeconds(a: Point, b: Point, t: TripContext): number {
  const ba = boroughOf(a);
  const bb = boroughOf(b);
  const crow = flatKm(a, b);
  const within = ba === 'manhattan' && bb === 'manhattan';
  const share = within ? 1 : manhattanShare(a, b);
  // Route km: the grid walk with a few one-way detours within Manhattan; leaving it, the Manhattan stretch
  // (to a bridge, a tunnel or the FDR) and a borough-pair detour factor for the rest.
  const coreKm = within ? gridKm(a, b) * 1.04 + 0.15 : share * crow * 1.25;
  const outerKm = (1 - share) * crow * detourOf(ba, bb);
  const airport = ['jfk', 'lga', 'ewr'].includes(ba) || ['jfk', 'lga', 'ewr'].includes(bb);
  const highwayShare = Math.min(0.9, Math.max(0, (outerKm - 2) / 12) + (airport ? 0.25 : 0));

  const hour = t.hour;
  let core = interpolate(t.weekend ? CORE_WEEKEND : CORE_WEEKDAY, hour);
  const midtownRush = !t.weekend && hour >= 8 && hour < 19 && (flatKm(a, MIDTOWN_CORE) < 1.5 || flatKm(b, MIDTOWN_CORE) < 1.5);
  if (midtownRush) core *= 0.85;
  const outer = core * 1.45;
  const highway = interpolate(t.weekend ? HIGHWAY_WEEKEND : HIGHWAY_WEEKDAY, hour);
  const rush = t.weekend ? 0.15 * interpolate(CROSSING_RUSH, hour) : interpolate(CROSSING_RUSH, hour);

  let minutes =
    60 * (coreKm / core + (outerKm * (1 - highwayShare)) / outer + (outerKm * highwayShare) / highway) +
    crossingMinutes(ba, bb, rush) +
    0.8; // boarding, payment
  for (const code of ['jfk', 'lga', 'ewr'] as const) {
    if (ba === code || bb === code) minutes += AIRPORT_CENTERS[code].accessMinutes;
  }
  minutes *= MONTH_FACTOR[t.month - 1] ?? 1;
  minutes *= 1 + 0.012 * (Math.max(1, t.passengers) - 1); // groups: more stops, luggage
  minutes *= t.vendor === 1 ? 0.985 : 1; // vendor 1's meters start a little later
  return 60 * minutes;
}

export const isWeekendOrHoliday = (year: number, month: number, day: number, dayOfWeek: number): boolean =>
  dayOfWeek >= 5 || isFederalHoliday(year, month, day);

// ---------------------------------------------------------------------------------------------------------
// Noise. Every component is centred in log space (its mean log factor is subtracted back out of the
// expected duration), so the written expected duration is the geometric-mean duration of its trip: the best
// a model of log1p(duration) can do, apart from the outliers.

/** Per-trip log noise: typical sd of its normal part; share and scale of the one-sided "bad luck" part. */
export const TRIP_NOISE = { sd: 0.19, badLuckShare: 0.08, badLuckScale: 0.5 };

/**
 * Sd of a trip's normal log noise: 0.75x the typical sd at night, 1.25x in weekday rush hours (traffic is
 * least predictable then), 15% more across a river or to another borough.
 */
export function tripNoiseSd(a: Point, b: Point, t: TripContext): number {
  const rush = t.weekend ? 0.3 : interpolate(CROSSING_RUSH, t.hour);
  return TRIP_NOISE.sd * (0.75 + 0.5 * rush) * (boroughOf(a) === boroughOf(b) ? 1 : 1.15);
}
/** Per-day log noise: sd; rain days (share, factor); snow days in January-February (share, factor). */
export const DAY_NOISE = { sd: 0.05, rainShare: 0.15, rainFactor: 1.1, snowShare: 0.06, snowFactor: 1.25 };
/** The January 2016 blizzard: days of month -> travel-time factor (and a quarter / two thirds of the trips). */
export const BLIZZARD: Record<string, { factor: number; demand: number }> = {
  '2016-01-23': { factor: 1.9, demand: 0.25 },
  '2016-01-24': { factor: 1.35, demand: 0.65 },
};

/** Mean log noise factor of a trip in a month (what the expected duration is scaled by). */
export function meanLogNoise(month: number, blizzardLogPerDay: number): number {
  const trip = TRIP_NOISE.badLuckShare * TRIP_NOISE.badLuckScale * Math.sqrt(2 / Math.PI);
  const snowy = month <= 2 ? DAY_NOISE.snowShare * Math.log(DAY_NOISE.snowFactor) : 0;
  return trip + DAY_NOISE.rainShare * Math.log(DAY_NOISE.rainFactor) + snowy + blizzardLogPerDay;
}

/** Outliers the meter records (shares of all trips). */
export const OUTLIERS = {
  /** Cancelled or mis-keyed: 1-30 s. */
  nearZero: 0.0015,
  /** Meter left running: 2-10 h, or a day (86,000-86,400 s, vendor 2 only). */
  multiHour: 0.001,
  /** The dropoff position was never updated: dropoff = pickup, duration of the real trip. */
  zeroDistance: 0.0035,
  /** A GPS jump: the dropoff position is off by a few km. */
  gpsJump: 0.002,
  /** A position outside the service area (the public data has 0,0 and points at sea). */
  outsideArea: 0.0005,
};

/** Passenger counts 0..9 as in the public data (0 and 7-9 are rare). */
export const PASSENGER_WEIGHTS = [0.00004, 0.708, 0.144, 0.041, 0.019, 0.053, 0.033, 0.00001, 0.00001, 0.00001];
