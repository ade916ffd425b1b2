/**
 * Seeded generator of SYNTHETIC New York City taxi trips in the exact column schema of the public NYC Taxi
 * Trip Duration data (Kaggle's train.csv), so the same export and fit train on either:
 *
 *   node --conditions=development --import tsx training/generate.ts [--rows 1000000] [--seed 20160101]
 *        [--from 2016-01-01] [--to 2016-06-30] [--out training/data/trips.csv]
 *
 * Writes <out> (id, vendor_id, pickup_datetime, dropoff_datetime, passenger_count, pickup_longitude,
 * pickup_latitude, dropoff_longitude, dropoff_latitude, store_and_fwd_flag, trip_duration), beside it
 * <name>.expected.csv (id, expected_duration: the trip's noise-free duration in seconds, which the public data
 * cannot have) and <name>.generator.json (the parameters). The same arguments give the same bytes.
 *
 * The world (geography, demand, speeds, noise) is in nyc-world.ts; model/<v>/model.json describes it.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { cumulativeSums, mulberry32, normal, pickWeighted } from '@predict/model-tools';
import { dayOfWeek, isFederalHoliday } from '../src/local-time';
import { SERVICE_AREA } from '../src/service-area';
import {
  AIRPORT_SHARE,
  AIRPORT_SPOTS,
  BLIZZARD,
  DAY_DEMAND,
  DAY_NOISE,
  HOTSPOTS,
  OUTLIERS,
  PASSENGER_WEIGHTS,
  TRIP_NOISE,
  airportShare,
  flatKm,
  fromKm,
  hourDemand,
  inManhattan,
  kindWeight,
  meanLogNoise,
  toKm,
  travelSeconds,
  tripNoiseSd,
  type Hotspot,
  type Point,
} from './nyc-world';

export const CSV_HEADER =
  'id,vendor_id,pickup_datetime,dropoff_datetime,passenger_count,pickup_longitude,pickup_latitude,dropoff_longitude,dropoff_latitude,store_and_fwd_flag,trip_duration';
export const GENERATOR_VERSION = 'taxi-eta-synthetic/1';

interface Options {
  rows: number;
  seed: number;
  from: string;
  to: string;
  out: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rows: 1_000_000, seed: 20160101, from: '2016-01-01', to: '2016-06-30', out: path.resolve(__dirname, 'data/trips.csv') };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--rows') o.rows = Number(value);
    else if (flag === '--seed') o.seed = Number(value);
    else if (flag === '--from') o.from = value;
    else if (flag === '--to') o.to = value;
    else if (flag === '--out') o.out = path.resolve(value);
    else throw new Error(`unknown option ${flag}`);
  }
  if (!(Number.isInteger(o.rows) && o.rows > 0 && o.rows < 9_000_000)) throw new Error('--rows must be a whole number below 9,000,000');
  if (!Number.isInteger(o.seed)) throw new Error('--seed must be a whole number');
  return o;
}

const DAY_MS = 86_400_000;
const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));
/** A naive (wall-clock, no zone) time in ms as `YYYY-MM-DD HH:MM:SS`. */
const csvTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

interface Day {
  ms: number;
  key: string;
  year: number;
  month: number;
  day: number;
  dayOfWeek: number;
  weekend: boolean;
  demand: number;
}

function daysOf(from: string, to: string): Day[] {
  const days: Day[] = [];
  for (let ms = Date.parse(`${from}T00:00:00Z`); ms <= Date.parse(`${to}T00:00:00Z`); ms += DAY_MS) {
    const d = new Date(ms);
    const [year, month, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    const dow = dayOfWeek(year, month, day);
    const holiday = isFederalHoliday(year, month, day);
    const key = d.toISOString().slice(0, 10);
    const demand = (DAY_DEMAND[dow] ?? 1) * (holiday ? 0.85 : 1) * (BLIZZARD[key]?.demand ?? 1) * (1 + 0.0005 * days.length);
    days.push({ ms, key, year, month, day, dayOfWeek: dow, weekend: dow >= 5 || holiday, demand });
  }
  if (days.length === 0) throw new Error(`no days from ${from} to ${to}`);
  return days;
}

/** Trips per day in proportion to demand, summing to `rows` exactly (largest remainders). */
function allocate(days: Day[], rows: number): number[] {
  const total = days.reduce((s, d) => s + d.demand, 0);
  const exact = days.map((d) => (rows * d.demand) / total);
  const counts = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const missing = rows - counts.reduce((s, c) => s + c, 0);
  for (let k = 0; k < missing; k++) counts[order[k]?.[1] ?? 0]!++;
  return counts;
}

/** Mean log factor of the fixed blizzard days, spread over their month (part of the noise, centred out). */
function blizzardLogPerDay(year: number, month: number): number {
  const prefix = `${year}-${pad(month)}-`;
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return Object.entries(BLIZZARD).reduce((s, [key, b]) => (key.startsWith(prefix) ? s + Math.log(b.factor) : s), 0) / days;
}

class TripSampler {
  private readonly pickupTables = new Map<string, Float64Array>();
  private readonly dropoffTables = new Map<string, Float64Array>();

  constructor(private readonly random: () => number) {}

  private pickupTable(hour: number, weekend: boolean): Float64Array {
    const key = `${hour}|${weekend}`;
    let t = this.pickupTables.get(key);
    if (t === undefined) {
      t = cumulativeSums(HOTSPOTS.map((s) => s.weight * kindWeight(s.kind, hour + 0.5, weekend, 'pickup')));
      this.pickupTables.set(key, t);
    }
    return t;
  }

  /** Gravity model: destination weight x (a local kernel + a long-trip kernel) of the distance. */
  private dropoffTable(from: number, hour: number, weekend: boolean): Float64Array {
    const key = `${from}|${hour}|${weekend}`;
    let t = this.dropoffTables.get(key);
    if (t === undefined) {
      const origin = HOTSPOTS[from] ?? HOTSPOTS[0]!;
      t = cumulativeSums(
        HOTSPOTS.map((s) => {
          const km = flatKm(origin, s);
          return s.weight * kindWeight(s.kind, hour + 0.5, weekend, 'dropoff') * (Math.exp(-km / 2.4) + 0.12 * Math.exp(-km / 10));
        }),
      );
      this.dropoffTables.set(key, t);
    }
    return t;
  }

  pickupSpot(hour: number, weekend: boolean): number {
    return pickWeighted(this.pickupTable(hour, weekend), this.random());
  }

  dropoffSpot(from: number, hour: number, weekend: boolean): number {
    return pickWeighted(this.dropoffTable(from, hour, weekend), this.random());
  }

  /** A point around a hotspot: elongated along Manhattan's avenues there, kept on the right side of its shore. */
  point(s: Hotspot): Point {
    const [cx, cy] = toKm(s);
    const sin = Math.sin((29 * Math.PI) / 180);
    const cos = Math.cos((29 * Math.PI) / 180);
    for (let attempt = 0; attempt < 12; attempt++) {
      const along = normal(this.random) * s.sigmaKm * (s.manhattan ? 1.3 : 1);
      const across = normal(this.random) * s.sigmaKm * (s.manhattan ? 0.7 : 1);
      const p = fromKm(cx + along * sin + across * cos, cy + along * cos - across * sin);
      if (inManhattan(p) === s.manhattan) return p;
    }
    return { lat: s.lat, lon: s.lon };
  }

  airport(): Hotspot {
    const u = this.random();
    return u < AIRPORT_SHARE.jfk ? AIRPORT_SPOTS.jfk : u < AIRPORT_SHARE.jfk + AIRPORT_SHARE.lga ? AIRPORT_SPOTS.lga : AIRPORT_SPOTS.ewr;
  }
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const random = mulberry32(o.seed);
  const sampler = new TripSampler(random);
  const days = daysOf(o.from, o.to);
  const perDay = allocate(days, o.rows);
  const passengerTable = cumulativeSums(PASSENGER_WEIGHTS);
  const a = SERVICE_AREA;

  const lines = new Array<string>(o.rows);
  const expectedLines = new Array<string>(o.rows);
  const stats = { airport_trips: 0, outliers: { near_zero: 0, multi_hour: 0, zero_distance: 0, gps_jump: 0, outside_area: 0 } };
  let row = 0;
  days.forEach((day, d) => {
    // Per-day weather / incidents: noise the model cannot know from a request.
    const rain = random() < DAY_NOISE.rainShare;
    const snow = day.month <= 2 && random() < DAY_NOISE.snowShare;
    const dayLog =
      DAY_NOISE.sd * normal(random) +
      (rain ? Math.log(DAY_NOISE.rainFactor) : 0) +
      (snow ? Math.log(DAY_NOISE.snowFactor) : 0) +
      Math.log(BLIZZARD[day.key]?.factor ?? 1);
    const centre = Math.exp(meanLogNoise(day.month, blizzardLogPerDay(day.year, day.month)));
    const hours = cumulativeSums(hourDemand(day.dayOfWeek, isFederalHoliday(day.year, day.month, day.day)));

    for (let k = 0; k < (perDay[d] ?? 0); k++, row++) {
      let hour = pickWeighted(hours, random());
      const minute = Math.floor(random() * 60);
      const second = Math.floor(random() * 60);
      if (day.key === '2016-03-13' && hour === 2) hour = 3; // 02:00-02:59 did not exist (DST)
      const fractionalHour = hour + minute / 60;

      let from: Hotspot;
      let to: Hotspot;
      const u = random();
      const toAirport = airportShare(fractionalHour, 'to');
      if (u < toAirport + airportShare(fractionalHour, 'from')) {
        stats.airport_trips++;
        const city = HOTSPOTS[sampler.pickupSpot(hour, day.weekend)] ?? HOTSPOTS[0]!;
        const airport = sampler.airport();
        [from, to] = u < toAirport ? [city, airport] : [airport, city];
      } else {
        const i = sampler.pickupSpot(hour, day.weekend);
        from = HOTSPOTS[i] ?? HOTSPOTS[0]!;
        to = HOTSPOTS[sampler.dropoffSpot(i, hour, day.weekend)] ?? HOTSPOTS[0]!;
      }
      const pickup = sampler.point(from);
      const dropoff = sampler.point(to);

      const passengers = pickWeighted(passengerTable, random());
      const vendor = random() < (passengers >= 5 ? 0.97 : 0.49) ? 2 : 1;
      const flag = vendor === 1 && random() < 0.011 ? 'Y' : 'N';

      const context = { hour: fractionalHour, weekend: day.weekend, month: day.month, passengers, vendor };
      const noiseFree = travelSeconds(pickup, dropoff, context);
      const expected = noiseFree * centre;
      const bad = random() < TRIP_NOISE.badLuckShare ? TRIP_NOISE.badLuckScale * Math.abs(normal(random)) : 0;
      const tripLog = tripNoiseSd(pickup, dropoff, context) * normal(random) + bad;
      let duration = Math.max(1, Math.round(noiseFree * Math.exp(dayLog + tripLog)));

      // The recorded trip: outliers of the meter and of the GPS (mutually exclusive).
      let [pLat, pLon, dLat, dLon] = [pickup.lat, pickup.lon, dropoff.lat, dropoff.lon];
      let x = random();
      const outlier = (share: number): boolean => {
        x -= share;
        return x < 0;
      };
      if (outlier(OUTLIERS.nearZero)) {
        stats.outliers.near_zero++;
        duration = 1 + Math.floor(random() * 30);
      } else if (outlier(OUTLIERS.multiHour)) {
        stats.outliers.multi_hour++;
        duration = vendor === 2 && random() < 0.5 ? 86_000 + Math.floor(random() * 400) : 7200 + Math.floor(random() * 28_800);
      } else if (outlier(OUTLIERS.zeroDistance)) {
        stats.outliers.zero_distance++;
        [dLat, dLon] = [pLat, pLon];
      } else if (outlier(OUTLIERS.gpsJump)) {
        stats.outliers.gps_jump++;
        const [jx, jy] = toKm(dropoff);
        const km = 2 + 6 * random();
        const angle = 2 * Math.PI * random();
        const jumped = fromKm(jx + km * Math.cos(angle), jy + km * Math.sin(angle));
        [dLat, dLon] = [jumped.lat, jumped.lon];
      } else if (outlier(OUTLIERS.outsideArea)) {
        stats.outliers.outside_area++;
        if (random() < 0.5) [pLat, pLon] = [0, 0];
        else [dLat, dLon] = [a.maxLat + 0.05 + random() * 0.5, a.minLon - random() * 0.3];
      }

      const pickupMs = day.ms + ((hour * 60 + minute) * 60 + second) * 1000;
      const id = `id${1_000_000 + ((row * 7919 + 12_345) % 9_000_000)}`;
      lines[row] = [
        id,
        vendor,
        csvTime(pickupMs),
        csvTime(pickupMs + duration * 1000),
        passengers,
        pLon.toFixed(6),
        pLat.toFixed(6),
        dLon.toFixed(6),
        dLat.toFixed(6),
        flag,
        duration,
      ].join(',');
      expectedLines[row] = `${id},${expected.toFixed(3)}`;
    }
  });

  if (row !== o.rows) throw new Error(`generated ${row} trips, expected ${o.rows}`);

  // Rows in random order, as in the public file.
  const order = Int32Array.from({ length: o.rows }, (_, i) => i);
  for (let i = o.rows - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i] ?? 0;
    order[i] = order[j] ?? 0;
    order[j] = t;
  }
  mkdirSync(path.dirname(o.out), { recursive: true });
  const base = o.out.replace(/\.csv$/, '');
  const write = (file: string, header: string, rows: string[]): void => {
    const fd = openSync(file, 'w');
    writeSync(fd, `${header}\n`);
    for (let from = 0; from < o.rows; from += 50_000) {
      const chunk: string[] = [];
      for (let i = from; i < Math.min(o.rows, from + 50_000); i++) chunk.push(rows[order[i] ?? 0] ?? '');
      writeSync(fd, `${chunk.join('\n')}\n`);
    }
    closeSync(fd);
  };
  write(o.out, CSV_HEADER, lines);
  write(`${base}.expected.csv`, 'id,expected_duration', expectedLines);
  const generator = {
    generator: GENERATOR_VERSION,
    seed: o.seed,
    rows: o.rows,
    from: o.from,
    to: o.to,
    ...stats,
    noise: { trip: TRIP_NOISE, day: DAY_NOISE, blizzard: BLIZZARD },
    outlier_shares: OUTLIERS,
  };
  writeFileSync(`${base}.generator.json`, `${JSON.stringify(generator, null, 2)}\n`);
  console.log(
    `[generate] ${o.rows} synthetic trips ${o.from}..${o.to} (seed ${o.seed}) -> ${path.relative(process.cwd(), o.out)} ` +
      `in ${((Date.now() - started) / 1000).toFixed(1)}s; ${JSON.stringify(stats)}`,
  );
}

if (require.main === module) main();
