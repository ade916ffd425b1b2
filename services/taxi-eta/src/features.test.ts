import { UnprocessableEntityError } from '@predict/serving';
import {
  COLUMN,
  DEFAULT_PASSENGER_COUNT,
  DEFAULT_VENDOR_ID,
  FEATURE_COUNT,
  FEATURE_NAMES,
  GRID_ROTATION_DEG,
  featurize,
  type FeatureName,
  type TripInput,
} from './features';
import { AIRPORTS, SERVICE_AREA, ZONES, outsideServiceArea } from './service-area';

const f32 = Math.fround;
const DEG = Math.PI / 180;

function features(input: TripInput): Record<FeatureName, number> {
  const out = new Float32Array(FEATURE_COUNT);
  featurize(input, out, 0);
  return Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, out[i] ?? NaN])) as Record<FeatureName, number>;
}

const timesSquare = { lat: 40.758, lon: -73.9855 };
const jfk = { lat: 40.6441, lon: -73.7822 };
const trip: TripInput = { pickup: timesSquare, dropoff: jfk, pickup_time: '2016-06-12T08:15:00', passenger_count: 2, vendor_id: 1 };

/** A point `km` away from `from` at compass bearing `deg`, on a flat local projection (fine below ~5 km). */
function move(from: { lat: number; lon: number }, km: number, deg: number): { lat: number; lon: number } {
  const north = km * Math.cos(deg * DEG);
  const east = km * Math.sin(deg * DEG);
  return { lat: from.lat + north / 111.05, lon: from.lon + east / (111.32 * Math.cos(40.75 * DEG)) };
}

describe('featurize: distances and bearing', () => {
  it('measures Times Square -> JFK like a map does (~21 km, heading south-east)', () => {
    const f = features(trip);
    expect(f.haversine_km).toBeGreaterThan(20.5);
    expect(f.haversine_km).toBeLessThan(21.5);
    expect(f.bearing_deg).toBeGreaterThan(120);
    expect(f.bearing_deg).toBeLessThan(130);
    expect(f.manhattan_km).toBeGreaterThan(f.haversine_km);
    expect(f.manhattan_km).toBeCloseTo(Math.abs(f.grid_along_km) + Math.abs(f.grid_across_km), 4);
  });

  it('is a straight line along an avenue: all along, nothing across', () => {
    const f = features({ ...trip, dropoff: move(timesSquare, 2, GRID_ROTATION_DEG) });
    expect(f.grid_along_km).toBeCloseTo(2, 3);
    expect(f.grid_across_km).toBeCloseTo(0, 3);
    expect(f.manhattan_km).toBeCloseTo(2, 3);
    expect(f.haversine_km).toBeCloseTo(2, 2);
    expect(f.bearing_deg).toBeCloseTo(GRID_ROTATION_DEG, 0);
  });

  it('is a crosstown street: all across (east side positive)', () => {
    const f = features({ ...trip, dropoff: move(timesSquare, 1, 90 + GRID_ROTATION_DEG) });
    expect(f.grid_along_km).toBeCloseTo(0, 3);
    expect(f.grid_across_km).toBeCloseTo(1, 3);
  });

  it('walks the grid for a trip due north: cos + sin of the rotation per km', () => {
    const f = features({ ...trip, dropoff: move(timesSquare, 3, 0) });
    const r = GRID_ROTATION_DEG * DEG;
    expect(f.manhattan_km).toBeCloseTo(3 * (Math.cos(r) + Math.sin(r)), 3);
    expect(f.grid_along_km).toBeCloseTo(3 * Math.cos(r), 3);
    expect(f.grid_across_km).toBeCloseTo(-3 * Math.sin(r), 3);
    expect(f.bearing_deg).toBeCloseTo(0, 3);
  });

  it.each([
    [90, 90],
    [180, 180],
    [270, 270],
  ])('bearing %d degrees', (deg, want) => {
    expect(features({ ...trip, dropoff: move(timesSquare, 1, deg) }).bearing_deg).toBeCloseTo(want, 0);
  });

  it('writes a sensible row when pickup equals dropoff: zero distances, bearing 0, no NaN', () => {
    const out = new Float32Array(FEATURE_COUNT).fill(NaN);
    featurize({ ...trip, dropoff: { ...timesSquare } }, out, 0);
    expect(out.every(Number.isFinite)).toBe(true);
    for (const name of ['haversine_km', 'manhattan_km', 'grid_along_km', 'grid_across_km', 'bearing_deg'] as const) {
      expect(out[COLUMN[name]]).toBe(0);
    }
  });
});

describe('featurize: time', () => {
  it.each([
    ['2016-06-12T08:15:00', 8.25, 6, 6, 0], // Sunday
    ['2016-06-13T17:45', 17.75, 0, 6, 0], // Monday, no seconds
    ['2016-05-30T00:00:30', 0, 0, 5, 1], // Memorial Day, seconds ignored
    ['2016-01-01T23:59:59.5', 23 + 59 / 60, 4, 1, 1], // New Year's Day, a Friday
  ])('%s -> hour %d, day %d, month %d, holiday %d', (pickup_time, hour, dow, month, holiday) => {
    const f = features({ ...trip, pickup_time });
    expect(f.pickup_hour).toBe(f32(hour));
    expect(f.day_of_week).toBe(dow);
    expect(f.week_hour).toBe(f32(dow * 24 + hour));
    expect(f.month).toBe(month);
    expect(f.is_holiday).toBe(holiday);
  });

  it.each(['2016-06-12 08:15:00', '2016-02-30T10:00', '2016-06-12T25:00', 'tomorrow'])('rejects %j with a 422', (pickup_time) => {
    expect(() => features({ ...trip, pickup_time })).toThrow(
      expect.objectContaining({ status: 422, code: 'invalid_pickup_time', details: { field: 'pickup_time', value: pickup_time } }),
    );
  });
});

describe('featurize: places', () => {
  it.each(AIRPORTS.map((a) => [a.name, a] as const))('flags %s at either end', (_name, airport) => {
    const at = { lat: airport.lat, lon: airport.lon };
    const near = move(at, airport.radiusKm * 0.9, 45);
    expect(features({ ...trip, pickup: at, dropoff: timesSquare }).pickup_airport).toBe(airport.code);
    expect(features({ ...trip, pickup: timesSquare, dropoff: near }).dropoff_airport).toBe(airport.code);
    expect(features({ ...trip, pickup: move(at, airport.radiusKm + 0.3, 45) }).pickup_airport).toBe(0);
  });

  it('does not flag Times Square as an airport', () => {
    const f = features({ ...trip, dropoff: move(timesSquare, 1, 0) });
    expect([f.pickup_airport, f.dropoff_airport]).toEqual([0, 0]);
  });

  it('puts every zone centroid in its own zone, and known places in the expected ones', () => {
    ZONES.forEach((z, i) => expect(features({ ...trip, pickup: { lat: z.lat, lon: z.lon } }).pickup_zone).toBe(i));
    const zone = (lat: number, lon: number): string => ZONES[features({ ...trip, pickup: { lat, lon } }).pickup_zone]?.name ?? '';
    expect(zone(40.7484, -73.9857)).toBe('gramercy-murray-hill'); // Empire State Building
    expect(zone(40.7794, -73.9632)).toBe('upper-east-side'); // the Met
    expect(zone(40.6505, -73.9585)).toBe('crown-heights-flatbush'); // Flatbush and Church avenues
    expect(zone(40.6413, -73.7781)).toBe('jfk');
    expect(zone(40.5795, -74.1502)).toBe('staten-island');
  });

  it('measures the distance of each end from Times Square', () => {
    const f = features(trip);
    expect(f.pickup_center_km).toBeCloseTo(0, 3);
    expect(f.dropoff_center_km).toBe(f.haversine_km);
  });
});

describe('featurize: passengers and vendor', () => {
  it('writes them when given, and the training data defaults when not', () => {
    const f = features(trip);
    expect([f.passenger_count, f.vendor_id]).toEqual([2, 1]);
    const { passenger_count: _p, vendor_id: _v, ...bare } = trip;
    const g = features(bare);
    expect([g.passenger_count, g.vendor_id]).toEqual([DEFAULT_PASSENGER_COUNT, DEFAULT_VENDOR_ID]);
    expect(features({ ...bare, passenger_count: undefined, vendor_id: undefined })).toEqual(g);
  });
});

describe('featurize: service area', () => {
  it.each([
    ['pickup.lat', { ...trip, pickup: { lat: 40.4, lon: -73.9 } }, 40.4],
    ['pickup.lon', { ...trip, pickup: { lat: 40.7, lon: -74.5 } }, -74.5],
    ['dropoff.lat', { ...trip, dropoff: { lat: 41.2, lon: -73.9 } }, 41.2],
    ['dropoff.lon', { ...trip, dropoff: { lat: 40.7, lon: -73.5 } }, -73.5],
  ] as const)('refuses a trip outside, naming %s', (field, input, value) => {
    const call = (): unknown => features(input);
    expect(call).toThrow(UnprocessableEntityError);
    expect(call).toThrow(
      expect.objectContaining({ status: 422, code: 'outside_service_area', details: expect.objectContaining({ field, value }) }),
    );
    expect(call).toThrow(field);
  });

  it('accepts the corners and names NaN coordinates as outside', () => {
    const a = SERVICE_AREA;
    expect(outsideServiceArea({ pickup: { lat: a.minLat, lon: a.minLon }, dropoff: { lat: a.maxLat, lon: a.maxLon } })).toBeUndefined();
    expect(outsideServiceArea({ pickup: timesSquare, dropoff: { lat: NaN, lon: -73.9 } })?.field).toBe('dropoff.lat');
  });
});

describe('featurize: output', () => {
  it('writes each trip into its own row of a batch, as it would alone, and touches nothing else', () => {
    const trips = [trip, { ...trip, dropoff: timesSquare }, { ...trip, pickup: jfk, dropoff: move(timesSquare, 3, 200), vendor_id: undefined }];
    const batch = new Float32Array((trips.length + 2) * FEATURE_COUNT).fill(-7);
    trips.forEach((t, i) => featurize(t, batch, (i + 1) * FEATURE_COUNT));
    trips.forEach((t, i) => {
      const alone = new Float32Array(FEATURE_COUNT);
      featurize(t, alone, 0);
      expect(Array.from(batch.subarray((i + 1) * FEATURE_COUNT, (i + 2) * FEATURE_COUNT))).toEqual(Array.from(alone));
      expect(alone.every(Number.isFinite)).toBe(true);
    });
    const untouched = [...batch.subarray(0, FEATURE_COUNT), ...batch.subarray((trips.length + 1) * FEATURE_COUNT)];
    expect(untouched.every((v) => v === -7)).toBe(true);
  });

  it('refuses an offset without room', () => {
    expect(() => featurize(trip, new Float32Array(FEATURE_COUNT), 1)).toThrow(RangeError);
    expect(() => featurize(trip, new Float32Array(FEATURE_COUNT), -1)).toThrow(RangeError);
  });
});
