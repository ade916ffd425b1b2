import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Reader of the NYC Taxi Trip Duration schema (Kaggle's train.csv, or training/generate.ts's synthetic file):
 * id, vendor_id, pickup_datetime, dropoff_datetime, passenger_count, pickup_longitude, pickup_latitude,
 * dropoff_longitude, dropoff_latitude, store_and_fwd_flag, trip_duration. Columns are found by name.
 */

export const COLUMNS = [
  'id',
  'vendor_id',
  'pickup_datetime',
  'dropoff_datetime',
  'passenger_count',
  'pickup_longitude',
  'pickup_latitude',
  'dropoff_longitude',
  'dropoff_latitude',
  'store_and_fwd_flag',
  'trip_duration',
] as const;

export interface Trips {
  length: number;
  id: string[];
  vendor: Uint8Array;
  /** `YYYY-MM-DD HH:MM:SS`, local New York time. */
  pickup: string[];
  passengers: Uint8Array;
  pickupLat: Float64Array;
  pickupLon: Float64Array;
  dropoffLat: Float64Array;
  dropoffLon: Float64Array;
  /** Seconds. */
  duration: Float64Array;
}

function grow(t: Trips, capacity: number): Trips {
  const copy = <A extends Uint8Array | Float64Array>(a: A, make: (n: number) => A): A => {
    const b = make(capacity);
    b.set(a.subarray(0, t.length));
    return b;
  };
  return {
    length: t.length,
    id: t.id,
    pickup: t.pickup,
    vendor: copy(t.vendor, (n) => new Uint8Array(n)),
    passengers: copy(t.passengers, (n) => new Uint8Array(n)),
    pickupLat: copy(t.pickupLat, (n) => new Float64Array(n)),
    pickupLon: copy(t.pickupLon, (n) => new Float64Array(n)),
    dropoffLat: copy(t.dropoffLat, (n) => new Float64Array(n)),
    dropoffLon: copy(t.dropoffLon, (n) => new Float64Array(n)),
    duration: copy(t.duration, (n) => new Float64Array(n)),
  };
}

/** Reads the whole file column-wise (streamed line by line: the public file is ~200 MB). */
export async function readTrips(file: string): Promise<Trips> {
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  let t: Trips = grow(
    { length: 0, id: [], pickup: [], vendor: new Uint8Array(0), passengers: new Uint8Array(0), pickupLat: new Float64Array(0), pickupLon: new Float64Array(0), dropoffLat: new Float64Array(0), dropoffLon: new Float64Array(0), duration: new Float64Array(0) },
    1 << 20,
  );
  let col: Record<(typeof COLUMNS)[number], number> | undefined;
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (text === '') continue;
    const f = text.split(',');
    if (col === undefined) {
      const header = f.map((h) => h.trim().replace(/^"|"$/g, ''));
      const missing = COLUMNS.filter((c) => !header.includes(c));
      if (missing.length > 0) throw new Error(`${file}: not the NYC taxi trip schema, missing column(s) ${missing.join(', ')}`);
      col = Object.fromEntries(COLUMNS.map((c) => [c, header.indexOf(c)])) as Record<(typeof COLUMNS)[number], number>;
      continue;
    }
    if (t.length === t.duration.length) t = grow(t, 2 * t.length);
    const i = t.length++;
    const num = (c: (typeof COLUMNS)[number]): number => Number(f[col![c]]);
    t.id.push(f[col.id] ?? '');
    t.pickup.push(f[col.pickup_datetime] ?? '');
    t.vendor[i] = num('vendor_id');
    t.passengers[i] = Math.min(255, Math.max(0, num('passenger_count')));
    t.pickupLat[i] = num('pickup_latitude');
    t.pickupLon[i] = num('pickup_longitude');
    t.dropoffLat[i] = num('dropoff_latitude');
    t.dropoffLon[i] = num('dropoff_longitude');
    t.duration[i] = num('trip_duration');
  }
  if (col === undefined) throw new Error(`${file} is empty`);
  return t;
}

/** `id,expected_duration` side file of the generator: noise-free seconds by trip id. */
export async function readExpected(file: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let header = true;
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (header) {
      if (text !== 'id,expected_duration') throw new Error(`${file}: expected the header id,expected_duration`);
      header = false;
      continue;
    }
    const comma = text.indexOf(',');
    if (comma > 0) out.set(text.slice(0, comma), Number(text.slice(comma + 1)));
  }
  return out;
}
