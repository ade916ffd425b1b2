import { readFileSync } from 'node:fs';

/** The 3M flights of vega-datasets' flights-3m.parquet, column-wise. */
export interface Flights {
  readonly length: number;
  readonly origin: string[];
  readonly destination: string[];
  /** Scheduled local departure as the service receives it: `YYYY-MM-DDTHH:MM`. */
  readonly departure: string[];
  readonly year: Uint16Array;
  readonly month: Uint8Array;
  readonly hour: Uint8Array;
  /** Whole days since 1970-01-01 of the local departure date. */
  readonly day: Int32Array;
  /** Arrival delay in minutes (negative = early). */
  readonly delay: Int32Array;
  readonly distance: Float64Array;
}

const MS_PER_DAY = 86_400_000;
const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * Reads the parquet file. `date` is a TIMESTAMP without time zone (isAdjustedToUTC=false), so the UTC
 * fields of the JS Date are the local wall-clock departure time.
 */
export async function readFlights(path: string): Promise<Flights> {
  const { asyncBufferFromFile, parquetRead } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const file = await asyncBufferFromFile(path);
  let rows: unknown[][] = [];
  await parquetRead({
    file,
    compressors,
    columns: ['date', 'delay', 'distance', 'origin', 'destination'],
    onComplete: (r) => {
      rows = r;
    },
  });

  const n = rows.length;
  const flights: Flights = {
    length: n,
    origin: new Array<string>(n),
    destination: new Array<string>(n),
    departure: new Array<string>(n),
    year: new Uint16Array(n),
    month: new Uint8Array(n),
    hour: new Uint8Array(n),
    day: new Int32Array(n),
    delay: new Int32Array(n),
    distance: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const [date, delay, distance, origin, destination] = rows[i] as [Date, bigint, bigint, string, string];
    if (!(date instanceof Date) || typeof origin !== 'string' || typeof destination !== 'string') {
      throw new Error(`row ${i} of ${path} has an unexpected shape: ${JSON.stringify(rows[i], (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
    }
    const y = date.getUTCFullYear();
    const m = date.getUTCMonth() + 1;
    const h = date.getUTCHours();
    flights.origin[i] = origin;
    flights.destination[i] = destination;
    flights.departure[i] = `${y}-${pad2(m)}-${pad2(date.getUTCDate())}T${pad2(h)}:${pad2(date.getUTCMinutes())}`;
    flights.year[i] = y;
    flights.month[i] = m;
    flights.hour[i] = h;
    flights.day[i] = Math.floor(date.getTime() / MS_PER_DAY);
    flights.delay[i] = Number(delay);
    flights.distance[i] = Number(distance);
  }
  return flights;
}

export interface AirportLocation {
  readonly latitude: number;
  readonly longitude: number;
}

/** Splits one CSV line; fields may be double-quoted (airport names contain commas). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out;
}

/** vega-datasets airports.csv: iata,name,city,state,country,latitude,longitude. */
export function readAirports(path: string): Map<string, AirportLocation> {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  const header = csvFields(lines[0] ?? '');
  const iataCol = header.indexOf('iata');
  const latCol = header.indexOf('latitude');
  const lonCol = header.indexOf('longitude');
  if (iataCol < 0 || latCol < 0 || lonCol < 0) throw new Error(`${path}: expected iata, latitude, longitude columns`);
  const airports = new Map<string, AirportLocation>();
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const f = csvFields(line);
    const latitude = Number(f[latCol]);
    const longitude = Number(f[lonCol]);
    const iata = f[iataCol];
    if (iata === undefined || !Number.isFinite(latitude) || !Number.isFinite(longitude)) continue;
    airports.set(iata, { latitude, longitude });
  }
  return airports;
}
