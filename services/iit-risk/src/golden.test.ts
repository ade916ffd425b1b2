import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { FEATURE_COUNT, FEATURE_NAMES, featurize } from './features';
import { goldenRows } from './service.test-support';

const MODEL_DIR = path.resolve(__dirname, '../model');

interface Card {
  name: string;
  data: { synthetic: boolean };
  features: string[];
  outputs: { name: string; shape: number[] }[];
  risk_bands: { thresholds: { medium: number; high: number }; meaning: Record<string, string>; test: Record<string, { share_of_people: number }> };
  metrics: { test: { roc_auc: number; pr_auc: number; brier: number }; baseline: { roc_auc: number; pr_auc: number; brier_of_prevalence: number }; tracks_true_risk: { pearson_r: number } };
  drift_reference: { features: { name: string; edges: number[]; proportions: number[]; missing: number }[] };
  gate: { metric: string; direction: string; prediction: string };
}

/**
 * Golden parity, contributions included: held-out SYNTHETIC people through this service's feature code and
 * the ONNX graph in onnxruntime-node against XGBoost's predict() and pred_contribs(approx_contribs=True)
 * recorded by fit.py, element by element to the golden tolerance (1e-5).
 */
describe.each(readdirSync(MODEL_DIR).filter((d) => /^\d+$/.test(d)))('model version %s', (version) => {
  const dir = path.join(MODEL_DIR, version);
  const card = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as Card;
  const rows = goldenRows(version);
  let risk: Float32Array;
  let contributions: Float32Array;

  beforeAll(async () => {
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
    const x = new Float32Array(rows.length * FEATURE_COUNT);
    rows.forEach((row, i) => featurize(row.input.features, x, i * FEATURE_COUNT));
    const out = await session.run({ features: new ort.Tensor('float32', x, [rows.length, FEATURE_COUNT]) });
    risk = out['risk']?.data as Float32Array;
    contributions = out['contributions']?.data as Float32Array;
    await session.release();
  });

  it('reproduces XGBoost risk and every approximate contribution to 1e-5', () => {
    const width = FEATURE_COUNT + 1;
    const off: string[] = [];
    rows.forEach((row, i) => {
      if (!(Math.abs((risk[i] ?? NaN) - row.risk) <= 1e-5)) off.push(`row ${i} risk`);
      row.contributions.forEach((want, k) => {
        if (!(Math.abs((contributions[i * width + k] ?? NaN) - want) <= 1e-5 * Math.max(1, Math.abs(want)))) off.push(`row ${i} contribution ${k}`);
      });
    });
    expect(rows.length).toBeGreaterThanOrEqual(50);
    expect(off).toEqual([]);
  });

  it('contributions sum to the log-odds of the risk (the explanation is consistent with the score)', () => {
    const width = FEATURE_COUNT + 1;
    rows.forEach((_row, i) => {
      const sum = Array.from(contributions.subarray(i * width, (i + 1) * width)).reduce((a, b) => a + b, 0);
      const p = risk[i] ?? NaN;
      expect(Math.abs(sum - Math.log(p / (1 - p)))).toBeLessThan(1e-4);
    });
  });

  it('carries a synthetic-data card with metrics beating the baseline, ordered bands and a drift reference', () => {
    expect(card.name).toBe('iit-risk');
    expect(card.data.synthetic).toBe(true);
    expect(card.features).toEqual([...FEATURE_NAMES]);
    expect(card.outputs).toEqual([
      { name: 'risk', type: 'float32', shape: [-1, 1] },
      { name: 'contributions', type: 'float32', shape: [-1, FEATURE_COUNT + 1] },
    ]);
    expect(card.metrics.test.roc_auc).toBeGreaterThan(card.metrics.baseline.roc_auc);
    expect(card.metrics.test.pr_auc).toBeGreaterThan(card.metrics.baseline.pr_auc);
    expect(card.metrics.test.brier).toBeLessThan(card.metrics.baseline.brier_of_prevalence);
    expect(card.metrics.tracks_true_risk.pearson_r).toBeGreaterThan(0.9);
    expect(card.risk_bands.thresholds.medium).toBeLessThan(card.risk_bands.thresholds.high);
    expect(Object.keys(card.risk_bands.meaning).sort()).toEqual(['high', 'low', 'medium']);
    expect(card.gate).toEqual({ metric: 'roc_auc', direction: 'higher', prediction: 'risk_score' });
    expect(card.drift_reference.features.map((f) => f.name)).toEqual([...FEATURE_NAMES]);
    for (const f of card.drift_reference.features) {
      expect(f.proportions).toHaveLength(f.edges.length + 1);
      expect(f.proportions.reduce((a, b) => a + b, 0) + f.missing).toBeCloseTo(1, 4);
    }
  });
});
