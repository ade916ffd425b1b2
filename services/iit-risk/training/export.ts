/**
 * Training data export: a seeded SYNTHETIC cohort (training/cohort.ts) -> feature matrices through
 * src/features.ts (the serving code), split at random by person (the cohort is one cross-section).
 *
 *   node --conditions=development --import tsx training/export.ts [--rows 120000] [--seed 20240601]
 *
 * Writes, under training/data/ (git-ignored, never committed): <split>.features.f32, .label.f32 (1 = IIT),
 * .risk.f32 (the true generating risk), golden_candidates.{jsonl,features.f32}, evaluation.features.f32,
 * meta.json; and model/<version>/evaluation.json (test people as `{features}` requests with their label: what
 * promotion scores a candidate and the active version on).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertLittleEndian, mulberry32, runScript, sampleIndices, stepLogger, writeArray } from '@predict/model-tools';
import { FEATURE_COUNT, FEATURE_NAMES, featurize } from '../src/features';
import { INTERCEPT, RISK_FACTORS, generateCohort } from './cohort';

const SERVICE_DIR = path.resolve(__dirname, '..');
const OUT_DIR = path.join(SERVICE_DIR, 'training/data');
const MODEL_VERSION = process.env.MODEL_VERSION ?? '1';
const MODEL_DIR = path.join(SERVICE_DIR, 'model', MODEL_VERSION);
const SPLITS = { train: 0.7, validation: 0.15, test: 0.15 } as const;
type Split = keyof typeof SPLITS;
const GOLDEN_CANDIDATES = 500;
const EVALUATION_ROWS = 1500;

function option(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} needs a positive whole number`);
  return value;
}

runScript(async () => {
  assertLittleEndian();
  mkdirSync(OUT_DIR, { recursive: true });
  mkdirSync(MODEL_DIR, { recursive: true });
  const log = stepLogger('export');
  const argv = process.argv.slice(2);
  const rows = option(argv, '--rows', 120_000);
  const seed = option(argv, '--seed', 20240601);

  const cohort = generateCohort(rows, seed);
  const order = sampleIndices(rows, rows, mulberry32(seed + 1));
  const nTrain = Math.round(rows * SPLITS.train);
  const nValidation = Math.round(rows * SPLITS.validation);
  const idx: Record<Split, number[]> = {
    train: Array.from(order.subarray(0, nTrain)),
    validation: Array.from(order.subarray(nTrain, nTrain + nValidation)),
    test: Array.from(order.subarray(nTrain + nValidation)),
  };
  const prevalence = cohort.filter((m) => m.interrupted).length / rows;
  log(`generated ${rows} SYNTHETIC people (seed ${seed}), ${(100 * prevalence).toFixed(1)} % interrupt; ${Object.entries(idx).map(([s, r]) => `${s} ${r.length}`).join(', ')}`);

  const write = (name: string, a: Float32Array): void => writeArray(path.join(OUT_DIR, name), a);
  for (const [split, members] of Object.entries(idx)) {
    const x = new Float32Array(members.length * FEATURE_COUNT);
    const label = new Float32Array(members.length);
    const risk = new Float32Array(members.length);
    members.forEach((i, r) => {
      const m = cohort[i];
      if (m === undefined) throw new Error(`no person ${i}`);
      featurize(m.features, x, r * FEATURE_COUNT);
      label[r] = m.interrupted ? 1 : 0;
      risk[r] = m.risk;
    });
    write(`${split}.features.f32`, x);
    write(`${split}.label.f32`, label);
    write(`${split}.risk.f32`, risk);
  }

  // Golden candidates: test people, led by the shapes a parity check must cover (no viral load result, each facility type).
  const test = idx.test;
  const firstWhere = (pred: (i: number) => boolean) => test.findIndex((i) => pred(i));
  const leaders = [
    firstWhere((i) => cohort[i]?.features.last_viral_load === null),
    firstWhere((i) => (cohort[i]?.features.prior_iit_episodes ?? 0) >= 2),
    firstWhere((i) => cohort[i]?.features.facility_type === 'community'),
    firstWhere((i) => cohort[i]?.features.pregnant_or_breastfeeding === true),
  ].filter((r) => r >= 0);
  const sample = Array.from(sampleIndices(test.length, GOLDEN_CANDIDATES, mulberry32(seed + 2)));
  const golden = [...leaders, ...sample.filter((r) => !leaders.includes(r))].slice(0, GOLDEN_CANDIDATES);
  const goldenX = new Float32Array(golden.length * FEATURE_COUNT);
  const lines = golden.map((r, k) => {
    const features = cohort[test[r] ?? 0]?.features;
    if (features === undefined) throw new Error(`no test row ${r}`);
    featurize(features, goldenX, k * FEATURE_COUNT);
    return JSON.stringify({ test_row: r, input: { features } });
  });
  writeFileSync(path.join(OUT_DIR, 'golden_candidates.jsonl'), `${lines.join('\n')}\n`);
  write('golden_candidates.features.f32', goldenX);

  // evaluation.json: promotion scores the candidate and the active version on these, by ROC AUC.
  const evaluationRows = Array.from(sampleIndices(test.length, EVALUATION_ROWS, mulberry32(seed + 3))).sort((a, b) => a - b);
  const evaluationX = new Float32Array(evaluationRows.length * FEATURE_COUNT);
  const evaluation = evaluationRows.map((r, k) => {
    const m = cohort[test[r] ?? 0];
    if (m === undefined) throw new Error(`no test row ${r}`);
    featurize(m.features, evaluationX, k * FEATURE_COUNT);
    return JSON.stringify({ input: { features: m.features }, target: m.interrupted ? 1 : 0 });
  });
  write('evaluation.features.f32', evaluationX);
  writeFileSync(
    path.join(MODEL_DIR, 'evaluation.json'),
    `{"description":"SYNTHETIC held-out people (seeded sample of the test split); target = 1 if the person interrupted treatment",\n"rows":[\n${evaluation.join(',\n')}\n]}\n`,
  );

  const meta = {
    model_version: MODEL_VERSION,
    synthetic: true,
    feature_names: FEATURE_NAMES,
    feature_count: FEATURE_COUNT,
    rows: Object.fromEntries(Object.entries(idx).map(([s, r]) => [s, r.length])),
    seed,
    prevalence,
    generator: {
      description: 'training/cohort.ts: seeded synthetic ART cohort; labels drawn from a known logistic risk',
      intercept: INTERCEPT,
      risk_factors: RISK_FACTORS,
    },
    golden_candidates: golden.length,
    exported_at: new Date().toISOString(),
  };
  writeFileSync(path.join(OUT_DIR, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  log(`wrote ${OUT_DIR} and ${path.relative(SERVICE_DIR, MODEL_DIR)}/evaluation.json`);
});
