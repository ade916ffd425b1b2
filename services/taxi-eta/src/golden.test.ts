import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { GATE_METRICS, ModelRepository, gateSchema } from '@predict/serving';
import * as ort from 'onnxruntime-node';
import { FEATURE_COUNT, FEATURE_NAMES, featurize, haversineKm, pickupTimeOf, type TripInput } from './features';
import { etaIntervalSeconds, intervalFor, parseIntervalTable } from './interval';

const MODEL_DIR = path.resolve(__dirname, '../model');

interface Card {
  name: string;
  version: string;
  features: string[];
  inputs: Array<{ name: string; type: string; shape: number[] }>;
  outputs: Array<{ name: string; type: string; shape: number[] }>;
  gate: unknown;
  candidate: boolean;
  data: { SYNTHETIC: boolean };
  metrics: {
    rmsle: number;
    baseline_rmsle: number;
    floor_rmsle: number | null;
    gap_closed: number | null;
    interval_coverage: number;
    evaluation_set: { rmsle: number; rows: number };
  };
}

interface GoldenRow {
  input: TripInput;
  log_duration: number;
  eta_interval_seconds: [number, number];
}

/** Rows whose served value is off by more than `tolerance` (absolute: log_duration is a few units). */
function mismatches(served: Float32Array, expected: readonly number[], tolerance: number): number[] {
  return expected.flatMap((want, i) => (Math.abs((served[i] ?? NaN) - want) <= tolerance ? [] : [i]));
}

/**
 * Golden parity: held-out June trips as service requests, with the fitted XGBoost model's log_duration. Through
 * this service's own feature code and the ONNX graph in onnxruntime-node (the service itself comes later),
 * every value must match to 1e-5; the interval the service will add must match fit.py's to 1e-9.
 */
describe.each(readdirSync(MODEL_DIR).filter((d) => /^\d+$/.test(d)))('model version %s', (version) => {
  const dir = path.join(MODEL_DIR, version);
  const read = <T>(file: string): T => JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as T;
  const card = read<Card>('model.json');
  const golden = read<{ tolerance: number; rows: GoldenRow[] }>('golden.json');
  let session: ort.InferenceSession;
  let served: Float32Array;

  beforeAll(async () => {
    session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
    const x = new Float32Array(golden.rows.length * FEATURE_COUNT);
    golden.rows.forEach((row, i) => featurize(row.input, x, i * FEATURE_COUNT));
    const out = await session.run({ features: new ort.Tensor('float32', x, [golden.rows.length, FEATURE_COUNT]) });
    served = out.log_duration?.data as Float32Array;
  });

  afterAll(async () => {
    await session.release();
  });

  it('opens in the serving core (card schema, every file listed with its sha256) and matches the graph and the feature code', async () => {
    const opened = await new ModelRepository(MODEL_DIR).open(version);
    expect(opened.card).toMatchObject({ name: 'taxi-eta', version });
    expect(gateSchema.parse(card.gate)).toEqual({ metric: 'rmsle', direction: 'lower', prediction: 'eta_seconds' });
    expect(Object.keys(opened.card.files).sort()).toEqual(['evaluation.json', 'golden.json', 'intervals.json', 'model.onnx']);
    expect(card.candidate).toBe(version !== '1'); // training writes later versions as candidates
    expect(card.features).toEqual([...FEATURE_NAMES]);
    expect(card.inputs).toEqual([{ name: 'features', type: 'float32', shape: [-1, FEATURE_COUNT] }]);
    expect(card.outputs).toEqual([{ name: 'log_duration', type: 'float32', shape: [-1, 1] }]);
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['log_duration']);
  });

  it('meets its targets: at least half the baseline -> floor gap closed, interval coverage near 80%', () => {
    const m = card.metrics;
    expect(m.rmsle).toBeLessThan(m.baseline_rmsle);
    if (card.data.SYNTHETIC) {
      expect(m.floor_rmsle).not.toBeNull();
      expect((m.baseline_rmsle - m.rmsle) / (m.baseline_rmsle - (m.floor_rmsle ?? NaN))).toBeCloseTo(m.gap_closed ?? NaN, 9);
      expect(m.gap_closed).toBeGreaterThanOrEqual(0.5);
    }
    expect(m.interval_coverage).toBeGreaterThan(0.75);
    expect(m.interval_coverage).toBeLessThan(0.85);
  });

  it('has a couple of hundred held-out rows at 1e-5, including pickup = dropoff and trips without optional fields', () => {
    expect(golden.rows.length).toBeGreaterThanOrEqual(200);
    expect(golden.tolerance).toBeLessThanOrEqual(1e-5);
    expect(golden.rows.some((r) => r.input.pickup.lat === r.input.dropoff.lat && r.input.pickup.lon === r.input.dropoff.lon)).toBe(true);
    expect(golden.rows.some((r) => r.input.passenger_count === undefined)).toBe(true);
  });

  it('reproduces the fitted model from featurize through onnxruntime-node', () => {
    expect(served).toHaveLength(golden.rows.length);
    expect(mismatches(served, golden.rows.map((r) => r.log_duration), golden.tolerance)).toEqual([]);
  });

  it('would catch a drifted model: a perturbed expectation fails the comparison', () => {
    const perturbed = golden.rows.map((r, i) => (i % 50 === 0 ? r.log_duration + 1e-4 : r.log_duration));
    expect(mismatches(served, perturbed, golden.tolerance)).toEqual([0, 50, 100, 150].filter((i) => i < golden.rows.length));
  });

  it('gives the interval fit.py computed, through intervalFor on the served value', () => {
    const table = parseIntervalTable(read('intervals.json'));
    golden.rows.forEach((row, i) => {
      const interval = intervalFor(haversineKm(row.input.pickup, row.input.dropoff), pickupTimeOf(row.input).hour, table);
      const [lo, hi] = etaIntervalSeconds(served[i] ?? NaN, interval);
      const [wantLo, wantHi] = row.eta_interval_seconds;
      expect(Math.abs(lo - wantLo)).toBeLessThanOrEqual(1e-9 * Math.max(1, wantLo));
      expect(Math.abs(hi - wantHi)).toBeLessThanOrEqual(1e-9 * Math.max(1, wantHi));
      expect(lo).toBeLessThan(Math.expm1(served[i] ?? NaN));
      expect(hi).toBeGreaterThan(Math.expm1(served[i] ?? NaN));
    });
  });

  it('ships evaluation.json: held-out requests the feature code accepts, scored as a promotion will score them', async () => {
    const text = readFileSync(path.join(dir, 'evaluation.json'), 'utf8');
    expect(text.length).toBeLessThan(1024 * 1024);
    const rows = (JSON.parse(text) as { rows: Array<{ input: TripInput; target: number }> }).rows;
    expect(rows.length).toBeGreaterThanOrEqual(2000);
    expect(rows.every((r) => r.input.pickup_time.startsWith('2016-06-') && Number.isInteger(r.target) && r.target >= 1)).toBe(true);
    const x = new Float32Array(rows.length * FEATURE_COUNT);
    rows.forEach((row, i) => featurize(row.input, x, i * FEATURE_COUNT));
    const out = await session.run({ features: new ort.Tensor('float32', x, [rows.length, FEATURE_COUNT]) });
    const eta = Array.from(out.log_duration?.data as Float32Array, (v) => Math.expm1(v));
    const rmsle = GATE_METRICS.rmsle(eta, rows.map((r) => r.target));
    expect(card.metrics.evaluation_set.rows).toBe(rows.length);
    expect(Math.abs(rmsle - card.metrics.evaluation_set.rmsle)).toBeLessThan(1e-6);
  });
});
