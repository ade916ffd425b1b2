/**
 * Training data export: a trips CSV in the NYC Taxi Trip Duration schema -> feature matrices through
 * src/features.ts (the serving code), split by time.
 *
 *   node --conditions=development --import tsx training/export.ts [--csv <trips.csv>]
 *
 * Default CSV: training/data/trips.csv (the synthetic file training/generate.ts writes); `--csv` or TAXI_CSV
 * names another, e.g. the public data's train.csv. A `<name>.expected.csv` beside the CSV (the generator's
 * noise-free durations) is read when present, for the card's irreducible floor.
 *
 * Writes, under training/data/ (git-ignored): <split>.features.f32, .duration.f32 (seconds), .expected.f32
 * (noise-free seconds or NaN), .clean.u8 (passes the cleaning rule), golden_candidates.{jsonl,features.f32},
 * evaluation.features.f32, meta.json; and model/<version>/evaluation.json (a seeded sample of test trips as
 * service requests, with their durations: what promotion scores a candidate and the active version on).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertLittleEndian, mulberry32, runScript, sampleIndices, stepLogger, writeArray } from '@predict/model-tools';
import { COLUMN, DEFAULT_PASSENGER_COUNT, DEFAULT_VENDOR_ID, FEATURE_COUNT, FEATURE_NAMES, featurize, type TripInput } from '../src/features';
import { SERVICE_AREA, outsideServiceArea } from '../src/service-area';
import { readExpected, readTrips, type Trips } from './trips-csv';

const SERVICE_DIR = path.resolve(__dirname, '..');
const OUT_DIR = path.join(SERVICE_DIR, 'training/data');
const MODEL_VERSION = process.env.MODEL_VERSION ?? '1';
const MODEL_DIR = path.join(SERVICE_DIR, 'model', MODEL_VERSION);

/** Time split (local pickup date): fit, early stopping, interval calibration, test; never random. */
const PERIODS = {
  train: ['2016-01-01', '2016-05-10'],
  validation: ['2016-05-11', '2016-05-20'],
  calibration: ['2016-05-21', '2016-05-31'],
  test: ['2016-06-01', '2016-06-30'],
} as const;
type Split = keyof typeof PERIODS;
const SPLITS = Object.keys(PERIODS) as Split[];

/** Cleaning rule for the rows the model is fitted and early-stopped on (metrics use every row). */
const CLEAN = { minSeconds: 30, maxSeconds: 4 * 3600, maxKmPerHour: 100 };
const GOLDEN_CANDIDATES = 2000;
const EVALUATION_ROWS = 3000;
const SEED = 20160601;

function csvPath(argv: string[]): string {
  const i = argv.indexOf('--csv');
  if (i >= 0) {
    const value = argv[i + 1];
    if (value === undefined) throw new Error('--csv needs a path');
    return path.resolve(value);
  }
  return path.resolve(process.env.TAXI_CSV ?? path.join(OUT_DIR, 'trips.csv'));
}

/** The trip as the service receives it: `YYYY-MM-DD HH:MM:SS` becomes ISO 8601 local time. */
function requestOf(t: Trips, i: number): TripInput {
  const passengers = t.passengers[i] ?? 0;
  const vendor = t.vendor[i] ?? 0;
  return {
    pickup: { lat: t.pickupLat[i] ?? NaN, lon: t.pickupLon[i] ?? NaN },
    dropoff: { lat: t.dropoffLat[i] ?? NaN, lon: t.dropoffLon[i] ?? NaN },
    pickup_time: (t.pickup[i] ?? '').replace(' ', 'T'),
    ...(passengers >= 1 && passengers <= 9 ? { passenger_count: passengers } : {}),
    ...(vendor === 1 || vendor === 2 ? { vendor_id: vendor } : {}),
  };
}

async function main(): Promise<void> {
  assertLittleEndian();
  mkdirSync(OUT_DIR, { recursive: true });
  mkdirSync(MODEL_DIR, { recursive: true });
  const log = stepLogger('export');

  const csv = csvPath(process.argv.slice(2));
  const base = csv.replace(/\.csv$/, '');
  const trips = await readTrips(csv);
  const expectedFile = `${base}.expected.csv`;
  const expectedById = existsSync(expectedFile) ? await readExpected(expectedFile) : undefined;
  const generatorFile = `${base}.generator.json`;
  const generator = existsSync(generatorFile) ? (JSON.parse(readFileSync(generatorFile, 'utf8')) as Record<string, unknown>) : undefined;
  log(`read ${trips.length} trips from ${csv}${expectedById ? ` and ${expectedById.size} noise-free durations` : ' (no noise-free durations: no floor)'}`);

  // Split by local pickup date; drop what the service would refuse or what cannot be a trip record.
  const idx: Record<Split, number[]> = { train: [], validation: [], calibration: [], test: [] };
  const dropped = { outside_period: 0, outside_service_area: 0, bad_record: 0, passenger_count_over_9: 0 };
  const uncleanTrainRows = { train: 0, validation: 0 };
  const splitOf = (date: string): Split | undefined => SPLITS.find((s) => date >= PERIODS[s][0] && date <= PERIODS[s][1]);
  const row = new Float32Array(FEATURE_COUNT);
  const isClean = new Uint8Array(trips.length);
  for (let i = 0; i < trips.length; i++) {
    const split = splitOf((trips.pickup[i] ?? '').slice(0, 10));
    if (split === undefined) {
      dropped.outside_period++;
      continue;
    }
    const duration = trips.duration[i] ?? NaN;
    if (!(duration >= 1) || !Number.isInteger(duration)) {
      dropped.bad_record++;
      continue;
    }
    if ((trips.passengers[i] ?? 0) > 9) {
      dropped.passenger_count_over_9++;
      continue;
    }
    const request = requestOf(trips, i);
    if (outsideServiceArea(request) !== undefined) {
      dropped.outside_service_area++;
      continue;
    }
    try {
      featurize(request, row, 0);
    } catch {
      dropped.bad_record++; // an unreadable pickup_datetime
      continue;
    }
    const km = row[COLUMN.haversine_km] ?? 0;
    const clean = duration >= CLEAN.minSeconds && duration <= CLEAN.maxSeconds && km / (duration / 3600) <= CLEAN.maxKmPerHour;
    isClean[i] = clean ? 1 : 0;
    if ((split === 'train' || split === 'validation') && !clean) {
      uncleanTrainRows[split]++;
      continue;
    }
    idx[split].push(i);
  }
  log(`split: ${SPLITS.map((s) => `${s} ${idx[s].length}`).join(', ')}; dropped ${JSON.stringify(dropped)}; unclean rows left out of fitting ${JSON.stringify(uncleanTrainRows)}`);

  const write = (name: string, a: Float32Array | Uint8Array): void => writeArray(path.join(OUT_DIR, name), a);
  for (const split of SPLITS) {
    const rows = idx[split];
    const x = new Float32Array(rows.length * FEATURE_COUNT);
    const duration = new Float32Array(rows.length);
    const expected = new Float32Array(rows.length);
    const clean = new Uint8Array(rows.length);
    const t0 = process.hrtime.bigint();
    rows.forEach((i, r) => {
      featurize(requestOf(trips, i), x, r * FEATURE_COUNT);
      duration[r] = trips.duration[i] ?? NaN;
      expected[r] = expectedById?.get(trips.id[i] ?? '') ?? NaN;
      clean[r] = isClean[i] ?? 0;
    });
    const ns = Number(process.hrtime.bigint() - t0) / Math.max(1, rows.length);
    write(`${split}.features.f32`, x);
    write(`${split}.duration.f32`, duration);
    write(`${split}.expected.f32`, expected);
    write(`${split}.clean.u8`, clean);
    log(`${split}: ${rows.length} rows x ${FEATURE_COUNT} features (${ns.toFixed(0)} ns/row incl. request building)`);
  }

  // Golden candidates: test trips as service requests, in a seeded random order, led by the shapes a parity
  // check must cover (pickup equal to dropoff, each airport). Every 3rd leaves passenger_count and vendor_id
  // out, every 4th has no seconds.
  const test = idx.test;
  const random = mulberry32(SEED);
  const sample = Array.from(sampleIndices(test.length, GOLDEN_CANDIDATES, random));
  const firstWhere = (pred: (f: Float32Array) => boolean): number | undefined =>
    Array.from(test.keys()).find((r) => {
      featurize(requestOf(trips, test[r] ?? 0), row, 0);
      return pred(row);
    });
  const leaders = [
    firstWhere((f) => f[COLUMN.haversine_km] === 0),
    firstWhere((f) => f[COLUMN.pickup_airport] === 1),
    firstWhere((f) => f[COLUMN.dropoff_airport] === 2),
    firstWhere((f) => f[COLUMN.dropoff_airport] === 3),
  ].filter((r): r is number => r !== undefined);
  const golden = [...leaders, ...sample.filter((r) => !leaders.includes(r))].slice(0, GOLDEN_CANDIDATES);
  const goldenX = new Float32Array(golden.length * FEATURE_COUNT);
  const lines = golden.map((testRow, k) => {
    const req = requestOf(trips, test[testRow] ?? 0);
    const input: TripInput = {
      pickup: req.pickup,
      dropoff: req.dropoff,
      pickup_time: k % 4 === 3 ? req.pickup_time.slice(0, 16) : req.pickup_time,
      ...(k % 3 === 2 ? {} : { passenger_count: req.passenger_count ?? DEFAULT_PASSENGER_COUNT, vendor_id: req.vendor_id ?? DEFAULT_VENDOR_ID }),
    };
    featurize(input, goldenX, k * FEATURE_COUNT);
    return JSON.stringify({ test_row: testRow, input });
  });
  writeFileSync(path.join(OUT_DIR, 'golden_candidates.jsonl'), `${lines.join('\n')}\n`);
  write('golden_candidates.features.f32', goldenX);

  // evaluation.json: a seeded sample of every test trip (outliers included, as in the test metrics), with its
  // recorded duration; promotion scores a candidate and the active model on the same rows.
  const evaluationRows = Array.from(sampleIndices(test.length, EVALUATION_ROWS, mulberry32(SEED + 1))).sort((a, b) => a - b);
  const evaluationX = new Float32Array(evaluationRows.length * FEATURE_COUNT);
  const evaluation = evaluationRows.map((r, k) => {
    const input = requestOf(trips, test[r] ?? 0);
    featurize(input, evaluationX, k * FEATURE_COUNT);
    return JSON.stringify({ input, target: trips.duration[test[r] ?? 0] });
  });
  write('evaluation.features.f32', evaluationX); // fit.py scores the set the promotion gate will use
  const evaluationJson =
    `{"description":"held-out test trips ${PERIODS.test[0]}..${PERIODS.test[1]} (seeded sample of every trip in the service area, outliers included); target = trip_duration seconds",\n` +
    `"rows":[\n${evaluation.join(',\n')}\n]}\n`;
  writeFileSync(path.join(MODEL_DIR, 'evaluation.json'), evaluationJson);
  log(`wrote ${path.relative(SERVICE_DIR, MODEL_DIR)}/evaluation.json (${evaluation.length} rows, ${(evaluationJson.length / 1024).toFixed(0)} KiB)`);

  const meta = {
    model_version: MODEL_VERSION,
    feature_names: FEATURE_NAMES,
    feature_count: FEATURE_COUNT,
    csv: path.relative(SERVICE_DIR, csv).startsWith('..') ? csv : path.relative(SERVICE_DIR, csv),
    synthetic: generator !== undefined,
    generator: generator ?? null,
    has_expected: expectedById !== undefined,
    rows_read: trips.length,
    rows: Object.fromEntries(SPLITS.map((s) => [s, idx[s].length])),
    periods: PERIODS,
    dropped,
    service_area: SERVICE_AREA,
    cleaning: {
      rule: `fitting and early stopping use trips of ${CLEAN.minSeconds} s to ${CLEAN.maxSeconds / 3600} h at most ${CLEAN.maxKmPerHour} km/h great-circle; calibration and test keep every trip (metrics on all, and on clean ones)`,
      left_out: uncleanTrainRows,
    },
    defaults: { passenger_count: DEFAULT_PASSENGER_COUNT, vendor_id: DEFAULT_VENDOR_ID, note: 'written when a request (or a CSV row with 0 passengers) leaves them out' },
    seed: SEED,
    golden_candidates: golden.length,
    files: {
      features: '<split>.features.f32 float32 LE [rows, feature_count]',
      duration: '<split>.duration.f32 float32 [rows] trip_duration seconds',
      expected: '<split>.expected.f32 float32 [rows] noise-free seconds (NaN without the side file)',
      clean: '<split>.clean.u8 uint8 [rows] 1 = passes the cleaning rule',
      golden: 'golden_candidates.jsonl {test_row, input} + golden_candidates.features.f32 [candidates, feature_count]',
      evaluation: 'evaluation.features.f32 [rows of model/<v>/evaluation.json, feature_count]',
    },
    exported_at: new Date().toISOString(),
  };
  writeFileSync(path.join(OUT_DIR, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  log('done');
}

runScript(main);
