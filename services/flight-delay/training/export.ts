/**
 * Training data export: flights-3m.parquet -> feature matrices through src/features.ts (the serving code).
 *
 *   node --conditions=development --import tsx training/export.ts
 *
 * Writes model/<version>/features.json (tables of the whole training split, used in serving) and, under
 * training/data/ (git-ignored), float32 little-endian matrices, labels, baseline predictions, golden
 * candidates and meta.json for training/fit.py.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertLittleEndian, mulberry32, runScript, sampleIndices, stepLogger, writeArray } from '@predict/model-tools';
import {
  FEATURE_COUNT,
  FEATURE_NAMES,
  featurize,
  parseFeatureTables,
  type FeatureTables,
  type FeatureTablesJson,
  type FlightInput,
} from '../src/features';
import { readAirports, readFlights, type Flights } from './flights';
import { RouteHourBaseline, TargetStats, type AirportInfo } from './target-stats';

const SERVICE_DIR = path.resolve(__dirname, '..');
const DATA_DIR = path.join(SERVICE_DIR, 'node_modules/vega-datasets/data');
const OUT_DIR = path.join(SERVICE_DIR, 'training/data');
const MODEL_VERSION = process.env.MODEL_VERSION ?? '1';
const MODEL_DIR = path.join(SERVICE_DIR, 'model', MODEL_VERSION);

const DELAYED_MINUTES = 15;
const FOLDS = 5;
const SMOOTHING = { airport: 100, route: 50, hour: 50 };
const BASELINE_MIN_FLIGHTS = 20;
const GOLDEN_CANDIDATES = 2000;
const SEED = 20010601;

const DAY_MS = 86_400_000;
const dayOf = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) / DAY_MS;
/** Training split: January-May 2001; the early-stopping validation is its last 10 days. Test: June 2001. */
const TRAIN_FROM = dayOf(2001, 1, 1);
const VALIDATION_FROM = dayOf(2001, 5, 22);
const TEST_FROM = dayOf(2001, 6, 1);
const TEST_UNTIL = dayOf(2001, 7, 1); // exclusive
const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** Out-of-fold assignment by calendar day, so same-day (weather) correlation cannot leak into the stats. */
const foldOf = (day: number): number => (day - TRAIN_FROM) % FOLDS;

const write = (name: string, a: Float32Array | Uint8Array): void => writeArray(path.join(OUT_DIR, name), a);

function requestOf(f: Flights, i: number): FlightInput {
  return {
    origin: f.origin[i] ?? '',
    destination: f.destination[i] ?? '',
    scheduled_departure: f.departure[i] ?? '',
    distance_miles: f.distance[i] ?? 0,
  };
}

/** Tables as serving sees them: through JSON and the validating parser. */
const roundTrip = (json: FeatureTablesJson): FeatureTables => parseFeatureTables(JSON.parse(JSON.stringify(json)));

async function main(): Promise<void> {
  assertLittleEndian();
  mkdirSync(OUT_DIR, { recursive: true });
  mkdirSync(MODEL_DIR, { recursive: true });
  const log = stepLogger('export');

  const flights = await readFlights(path.join(DATA_DIR, 'flights-3m.parquet'));
  const locations = readAirports(path.join(DATA_DIR, 'airports.csv'));
  log(`read ${flights.length} flights, ${locations.size} airport locations`);

  // Airports the model knows: seen in the training split and located in airports.csv; codes by frequency.
  const seen = new Map<string, number>();
  const inTrain = (i: number): boolean => (flights.day[i] ?? 0) >= TRAIN_FROM && (flights.day[i] ?? 0) < TEST_FROM;
  for (let i = 0; i < flights.length; i++) {
    if (!inTrain(i)) continue;
    for (const a of [flights.origin[i] ?? '', flights.destination[i] ?? '']) seen.set(a, (seen.get(a) ?? 0) + 1);
  }
  const unlocated = [...seen.keys()].filter((a) => !locations.has(a));
  const airports: AirportInfo[] = [...seen.entries()]
    .filter(([a]) => locations.has(a))
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .map(([iata], code) => {
      const loc = locations.get(iata) ?? { latitude: 0, longitude: 0 };
      return { iata, code, latitude: loc.latitude, longitude: loc.longitude };
    });
  const airportIndex = new Map(airports.map((a, i) => [a.iata, i]));
  log(`${airports.length} airports in the training split (${unlocated.length} without coordinates dropped: ${unlocated.join(' ') || '-'})`);

  // Target statistics per fold of the training split, and the route x hour baseline.
  const foldStats = Array.from({ length: FOLDS }, () => new TargetStats(airports.length));
  const baseline = new RouteHourBaseline(airports.length, DELAYED_MINUTES, BASELINE_MIN_FLIGHTS);
  const known = (i: number): boolean =>
    airportIndex.has(flights.origin[i] ?? '') && airportIndex.has(flights.destination[i] ?? '');
  const idx = { fit: [] as number[], validation: [] as number[], test: [] as number[] };
  const dropped = { outside_period: 0, unknown_airport_train: 0, unknown_airport_test: 0, same_airport: 0 };
  for (let i = 0; i < flights.length; i++) {
    const day = flights.day[i] ?? 0;
    if (day < TRAIN_FROM || day >= TEST_UNTIL) {
      dropped.outside_period++;
      continue;
    }
    if (flights.origin[i] === flights.destination[i]) {
      dropped.same_airport++;
      continue;
    }
    if (!known(i)) {
      dropped[day >= TEST_FROM ? 'unknown_airport_test' : 'unknown_airport_train']++;
      continue;
    }
    if (day >= TEST_FROM) {
      idx.test.push(i);
      continue;
    }
    (day >= VALIDATION_FROM ? idx.validation : idx.fit).push(i);
    const o = airportIndex.get(flights.origin[i] ?? '') ?? -1;
    const d = airportIndex.get(flights.destination[i] ?? '') ?? -1;
    const hour = flights.hour[i] ?? 0;
    const delay = flights.delay[i] ?? 0;
    foldStats[foldOf(day)]?.add(o, d, hour, day, delay, DELAYED_MINUTES);
    baseline.add(o, d, hour, delay);
  }
  const full = foldStats.reduce((a, b) => a.plus(b));
  log(`split: fit ${idx.fit.length}, validation ${idx.validation.length}, test ${idx.test.length}; dropped ${JSON.stringify(dropped)}`);

  // Serving tables: the whole training split. Training rows: the training split minus the row's fold.
  const fullJson = full.toJson(airports, SMOOTHING, DELAYED_MINUTES);
  const featuresJson = JSON.stringify(fullJson);
  writeFileSync(path.join(MODEL_DIR, 'features.json'), `${featuresJson}\n`);
  const servingTables = parseFeatureTables(JSON.parse(featuresJson));
  const foldTables = foldStats.map((s) => roundTrip(full.minus(s).toJson(airports, SMOOTHING, DELAYED_MINUTES)));
  log(`wrote ${path.relative(SERVICE_DIR, MODEL_DIR)}/features.json (${(featuresJson.length / 1024).toFixed(0)} KiB, ${Object.keys(fullJson.routes).length} routes)`);

  const matrix = (rows: number[], tablesOf: (i: number) => FeatureTables, prefix: string): void => {
    const x = new Float32Array(rows.length * FEATURE_COUNT);
    const delayed = new Uint8Array(rows.length);
    const minutes = new Float32Array(rows.length);
    const t0 = process.hrtime.bigint();
    rows.forEach((i, r) => {
      featurize(requestOf(flights, i), tablesOf(i), x, r * FEATURE_COUNT);
      const delay = flights.delay[i] ?? 0;
      delayed[r] = delay >= DELAYED_MINUTES ? 1 : 0;
      minutes[r] = delay;
    });
    const ns = Number(process.hrtime.bigint() - t0) / rows.length;
    write(`${prefix}.features.f32`, x);
    write(`${prefix}.delayed.u8`, delayed);
    write(`${prefix}.minutes.f32`, minutes);
    log(`${prefix}: ${rows.length} rows x ${FEATURE_COUNT} features (${ns.toFixed(0)} ns/row incl. request building)`);
  };
  const outOfFold = (i: number): FeatureTables => foldTables[foldOf(flights.day[i] ?? 0)] ?? servingTables;
  matrix(idx.fit, outOfFold, 'train');
  matrix(idx.validation, outOfFold, 'validation');
  matrix(idx.test, () => servingTables, 'test');

  const base = new Float32Array(idx.test.length * 2);
  idx.test.forEach((i, r) => {
    const [p, m] = baseline.predict(
      airportIndex.get(flights.origin[i] ?? '') ?? -1,
      airportIndex.get(flights.destination[i] ?? '') ?? -1,
      flights.hour[i] ?? 0,
    );
    base[2 * r] = p;
    base[2 * r + 1] = m;
  });
  write('test.baseline.f32', base);

  // Golden candidates: a seeded sample of June rows as service requests. Every 5th leaves distance_miles out
  // (great-circle fallback), every 7th carries seconds; their feature rows are written alongside.
  const order = sampleIndices(idx.test.length, GOLDEN_CANDIDATES, mulberry32(SEED));
  const count = order.length;
  const goldenX = new Float32Array(count * FEATURE_COUNT);
  const lines: string[] = [];
  for (let k = 0; k < count; k++) {
    const testRow = order[k] ?? 0;
    const req = requestOf(flights, idx.test[testRow] ?? 0);
    const input: FlightInput = {
      origin: req.origin,
      destination: req.destination,
      scheduled_departure: k % 7 === 3 ? `${req.scheduled_departure}:00` : req.scheduled_departure,
      ...(k % 5 === 4 ? {} : { distance_miles: req.distance_miles }),
    };
    featurize(input, servingTables, goldenX, k * FEATURE_COUNT);
    lines.push(JSON.stringify({ test_row: testRow, input }));
  }
  writeFileSync(path.join(OUT_DIR, 'golden_candidates.jsonl'), `${lines.join('\n')}\n`);
  write('golden_candidates.features.f32', goldenX);

  const meta = {
    model_version: MODEL_VERSION,
    feature_names: FEATURE_NAMES,
    feature_count: FEATURE_COUNT,
    delayed_minutes: DELAYED_MINUTES,
    rows: { train: idx.fit.length, validation: idx.validation.length, test: idx.test.length, golden_candidates: count },
    periods: {
      train: [isoDay(TRAIN_FROM), isoDay(VALIDATION_FROM - 1)],
      validation: [isoDay(VALIDATION_FROM), isoDay(TEST_FROM - 1)],
      test: [isoDay(TEST_FROM), isoDay(TEST_UNTIL - 1)],
    },
    dropped,
    airports: airports.length,
    routes: Object.keys(fullJson.routes).length,
    target_statistics: {
      folds: FOLDS,
      fold_assignment: 'days since 2001-01-01 modulo 5 (whole calendar days per fold)',
      smoothing: SMOOTHING,
    },
    baseline: {
      min_flights: BASELINE_MIN_FLIGHTS,
      definition: `training-split (Jan-May) delay rate and mean arrival delay of the route in the scheduled departure hour (whole hour); route overall if that cell has fewer than ${BASELINE_MIN_FLIGHTS} flights; global rate/mean if the route has fewer than ${BASELINE_MIN_FLIGHTS} too`,
    },
    files: {
      features: '<split>.features.f32 float32 LE [rows, feature_count]',
      delayed: '<split>.delayed.u8 uint8 [rows] (arrival delay >= delayed_minutes)',
      minutes: '<split>.minutes.f32 float32 LE [rows] arrival delay minutes',
      baseline: 'test.baseline.f32 float32 LE [test rows, 2] (P(delayed), mean delay)',
      golden: 'golden_candidates.jsonl {test_row, input} + golden_candidates.features.f32 [candidates, feature_count]',
    },
    seed: SEED,
    exported_at: new Date().toISOString(),
  };
  writeFileSync(path.join(OUT_DIR, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  log('done');
}

runScript(main);
