import { UnprocessableEntityError } from '@predict/serving';
import {
  COLUMN,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_TABLES_FORMAT,
  featurize,
  parseFeatureTables,
  type FeatureTablesJson,
  type FlightInput,
  type HourStats,
} from './features';

const hours = (f: (h: number) => [number, number]): HourStats => Array.from({ length: 24 }, (_, h) => f(h));
const none = hours(() => [0, 0]);

/** Three airports; only JFK->LAX has been flown. Numbers chosen so the smoothing can be checked by hand. */
function tablesJson(): FeatureTablesJson {
  return {
    format: FEATURE_TABLES_FORMAT,
    feature_names: [...FEATURE_NAMES],
    delayed_minutes: 15,
    days: 10,
    smoothing: { airport: 100, route: 50, hour: 50 },
    // 20% delayed overall, mean delay 5 min, flat hour profile.
    global: { flights: 2400, delayed: 480, delay_sum: 12000, hour: hours(() => [100, 20]) },
    airports: {
      JFK: {
        code: 0,
        latitude: 40.63975,
        longitude: -73.77893,
        origin: [100, 40, 1000], // 40% delayed, mean 10
        destination: [0, 0, 0],
        origin_hour: hours((h) => (h === 14 ? [50, 25] : [0, 0])),
        destination_hour: none,
      },
      LAX: {
        code: 1,
        latitude: 33.94254,
        longitude: -118.40807,
        origin: [0, 0, 0],
        destination: [300, 30, 0], // 10% delayed, mean 0
        origin_hour: none,
        destination_hour: none,
      },
      ORD: {
        code: 2,
        latitude: 41.9786,
        longitude: -87.9048,
        origin: [0, 0, 0],
        destination: [0, 0, 0],
        origin_hour: none,
        destination_hour: none,
      },
    },
    routes: { 'JFK-LAX': { all: [50, 20, 750], hours: [[14, 50, 30, 1000]] } },
  };
}

const tables = parseFeatureTables(tablesJson());

function features(input: FlightInput): Record<string, number> {
  const out = new Float32Array(FEATURE_COUNT);
  featurize(input, tables, out, 0);
  return Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, out[i] ?? NaN]));
}

const f32 = Math.fround;
const jfkLax: FlightInput = { origin: 'JFK', destination: 'LAX', scheduled_departure: '2001-06-15T14:30', distance_miles: 2475 };

describe('featurize: date parts', () => {
  it.each([
    ['2001-06-15T14:30', 14.5, 4, 6], // Friday
    ['2001-01-01T00:00', 0, 0, 1], // Monday
    ['2000-12-31T23:59:59', 23 + 59 / 60, 6, 12], // Sunday, seconds ignored
    ['2024-02-29T06:15:00.000', 6.25, 3, 2], // leap day, a Thursday
    ['1999-03-01T12:00', 12, 0, 3], // Monday
  ])('%s -> hour %d, day of week %d, month %d', (scheduled_departure, hour, dow, month) => {
    const f = features({ ...jfkLax, scheduled_departure });
    expect(f.departure_hour).toBe(f32(hour));
    expect(f.day_of_week).toBe(dow);
    expect(f.month).toBe(month);
  });

  it.each(['2001-06-15 14:30', '2001-6-15T14:30', '2001-06-15T25:00', '2001-13-01T10:00', '2001-06-15', 'tomorrow'])(
    'rejects %j',
    (scheduled_departure) => {
      expect(() => features({ ...jfkLax, scheduled_departure })).toThrow(
        expect.objectContaining({ code: 'invalid_scheduled_departure', status: 422 }),
      );
    },
  );
});

describe('featurize: airports', () => {
  it('writes the frequency codes', () => {
    const f = features(jfkLax);
    expect([f.origin_code, f.destination_code]).toEqual([0, 1]);
  });

  it.each([
    ['origin', { ...jfkLax, origin: 'XYZ' }, 'XYZ'],
    ['destination', { ...jfkLax, destination: 'ABC' }, 'ABC'],
  ] as const)('rejects an unknown %s', (field, input, value) => {
    let error: unknown;
    try {
      features(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnprocessableEntityError);
    const e = error as UnprocessableEntityError;
    expect(e.message).toBe(`unknown airport '${value}'`);
    expect(e.code).toBe('unknown_airport');
    expect(e.status).toBe(422);
    expect(e.details).toEqual({ field, value });
  });

  it('rejects origin === destination', () => {
    expect(() => features({ ...jfkLax, destination: 'JFK' })).toThrow(
      expect.objectContaining({ code: 'same_airport', details: { field: 'destination', value: 'JFK' } }),
    );
  });
});

describe('featurize: distance', () => {
  /** Haversine, independent of the spherical-law-of-cosines code under test. */
  function haversineMiles(lat1: number, lon1: number, lat2: number, lon2: number): number {
    const r = (d: number): number => (d * Math.PI) / 180;
    const a = Math.sin(r(lat2 - lat1) / 2) ** 2 + Math.cos(r(lat1)) * Math.cos(r(lat2)) * Math.sin(r(lon2 - lon1) / 2) ** 2;
    return 2 * 3958.7613 * Math.asin(Math.sqrt(a));
  }

  it('uses the distance of the request when given', () => {
    expect(features({ ...jfkLax, distance_miles: 1234.5 }).distance_miles).toBe(1234.5);
  });

  it('falls back to the great-circle distance between the airports', () => {
    const { distance_miles: _, ...noDistance } = jfkLax;
    const got = features(noDistance).distance_miles ?? NaN;
    expect(got).toBeCloseTo(haversineMiles(40.63975, -73.77893, 33.94254, -118.40807), 1);
    expect(Math.abs(got - 2475) / 2475).toBeLessThan(0.01); // the DOT distance of JFK-LAX
    expect(features({ ...jfkLax, distance_miles: undefined }).distance_miles).toBe(got);
  });
});

describe('featurize: smoothed delay statistics', () => {
  // Global rate 0.2 and mean 5; airport strength 100, route 50, hour 50.
  const jfkRate = (40 + 100 * 0.2) / (100 + 100); // 0.3
  const laxRate = (30 + 100 * 0.2) / (300 + 100); // 0.125
  const jfkMean = (1000 + 100 * 5) / 200; // 7.5
  const laxMean = (0 + 100 * 5) / 400; // 1.25
  const ordRate = 0.2; // never seen: the global rate
  const ordMean = 5;

  it('smooths the airports toward the global figures', () => {
    const f = features(jfkLax);
    expect(f.origin_delay_rate).toBe(f32(jfkRate));
    expect(f.destination_delay_rate).toBe(f32(laxRate));
    expect(f.origin_mean_delay).toBe(f32(jfkMean));
    expect(f.destination_mean_delay).toBe(f32(laxMean));
  });

  it('smooths a flown route toward the mean of its airports', () => {
    const f = features(jfkLax);
    const routeRate = (20 + 50 * ((jfkRate + laxRate) / 2)) / (50 + 50);
    const routeMean = (750 + 50 * ((jfkMean + laxMean) / 2)) / 100;
    expect(f.route_delay_rate).toBe(f32(routeRate));
    expect(f.route_mean_delay).toBe(f32(routeMean));
    expect(f.route_daily_flights).toBe(5);
    // 14:00 was flown: smoothed toward the route rate shaped by JFK's 14:00 profile.
    const jfk14 = (25 + 50 * jfkRate) / 100;
    expect(f.origin_hour_delay_rate).toBe(f32(jfk14));
    expect(f.route_hour_delay_rate).toBe(f32((30 + 50 * Math.min(1, (routeRate * jfk14) / jfkRate)) / 100));
    expect(f.route_hour_mean_delay).toBe(f32((1000 + 50 * routeMean) / 100));
  });

  it('falls back for an hour the route is not flown', () => {
    const f = features({ ...jfkLax, scheduled_departure: '2001-06-15T09:05' });
    const routeRate = (20 + 50 * ((jfkRate + laxRate) / 2)) / 100;
    expect(f.origin_hour_delay_rate).toBe(f32(jfkRate)); // no 09:00 flights at JFK: its overall rate
    expect(f.route_hour_delay_rate).toBe(f32(routeRate));
    expect(f.route_hour_mean_delay).toBe(features(jfkLax).route_mean_delay);
  });

  it('falls back to the airports for an unseen route, and to the global figures for an unseen airport', () => {
    const f = features({ origin: 'JFK', destination: 'ORD', scheduled_departure: '2001-06-15T14:30' });
    const rate = (jfkRate + ordRate) / 2;
    const mean = (jfkMean + ordMean) / 2;
    expect(f.destination_delay_rate).toBe(f32(ordRate));
    expect(f.destination_mean_delay).toBe(f32(ordMean));
    expect(f.route_delay_rate).toBe(f32(rate));
    expect(f.route_mean_delay).toBe(f32(mean));
    expect(f.route_hour_mean_delay).toBe(f32(mean));
    expect(f.route_hour_delay_rate).toBe(f32((rate * ((25 + 50 * jfkRate) / 100)) / jfkRate));
    expect(f.route_daily_flights).toBe(0);

    const g = features({ origin: 'ORD', destination: 'LAX', scheduled_departure: '2001-06-15T14:30' });
    expect(g.origin_delay_rate).toBe(f32(0.2));
    expect(g.origin_hour_delay_rate).toBe(f32(0.2));
    expect(g.route_delay_rate).toBe(f32((0.2 + laxRate) / 2));
  });
});

describe('featurize: output', () => {
  it('is deterministic and writes exactly its slice', () => {
    const out = new Float32Array(3 * FEATURE_COUNT).fill(-7);
    featurize(jfkLax, tables, out, FEATURE_COUNT);
    featurize(jfkLax, parseFeatureTables(JSON.parse(JSON.stringify(tablesJson()))), out, 2 * FEATURE_COUNT);
    expect(Array.from(out.subarray(0, FEATURE_COUNT))).toEqual(new Array(FEATURE_COUNT).fill(-7));
    expect(Array.from(out.subarray(FEATURE_COUNT, 2 * FEATURE_COUNT))).toEqual(Array.from(out.subarray(2 * FEATURE_COUNT)));
    expect(out.subarray(FEATURE_COUNT).every(Number.isFinite)).toBe(true);
    expect(out[FEATURE_COUNT + COLUMN.distance_miles]).toBe(2475);
  });

  it('refuses an offset without room', () => {
    expect(() => featurize(jfkLax, tables, new Float32Array(FEATURE_COUNT), 1)).toThrow(RangeError);
  });
});

describe('parseFeatureTables', () => {
  it('refuses tables built for other features', () => {
    const json = tablesJson();
    json.feature_names = ['origin_code'];
    expect(() => parseFeatureTables(json)).toThrow(/tables were built for features/);
  });

  it('refuses a route through an unknown airport', () => {
    const json = tablesJson();
    json.routes['JFK-SFO'] = { all: [1, 0, 0], hours: [] };
    expect(() => parseFeatureTables(json)).toThrow(/route names an airport missing/);
  });

  it('refuses a malformed file', () => {
    expect(() => parseFeatureTables({ format: FEATURE_TABLES_FORMAT })).toThrow();
  });
});
