import path from 'node:path';
import { HttpError, ModelLoadError, ServiceUnavailableError, definePredictor, type ModelCard } from '@predict/serving';
import { z } from 'zod';
import { FEATURE_COUNT, FEATURE_NAMES, featurize, type PatientFeatures } from './features';
import { type FeatureStore, unknownPatient } from './feature-store';
import { MAX_BATCH_INSTANCES, RISK_BANDS, riskPredictionSchema, riskRequestSchema, type RiskPrediction, type RiskRequest } from './schema';

/** From the card: score thresholds of the bands (validation data, fit.py). */
export interface IitArtifacts {
  medium: number;
  high: number;
}

/** A request once prepared: the person's features, from the store or inline. */
export interface PreparedRequest {
  features: PatientFeatures;
  source: 'store' | 'inline';
}

const bandsSchema = z.object({ thresholds: z.object({ medium: z.number().min(0).max(1), high: z.number().min(0).max(1) }) });

/** An inline request, prepared: its own features (nothing to look up); undefined for a stored person. */
function inlinePrepared(input: RiskRequest): PreparedRequest | undefined {
  return input.features === undefined ? undefined : { features: input.features, source: 'inline' };
}

/** At most this many factors are answered: the largest positive contributions. */
const TOP_FACTORS = 3;

function riskBand(score: number, { medium, high }: IitArtifacts): (typeof RISK_BANDS)[number] {
  return score >= high ? 'high' : score >= medium ? 'medium' : 'low';
}

/** The features that pushed the risk up most: positive contributions, largest first, with the value the model saw. */
function topFactors(contributions: ArrayLike<number | bigint>, row: Float32Array): RiskPrediction['top_factors'] {
  const factors: RiskPrediction['top_factors'] = [];
  for (let f = 0; f < FEATURE_COUNT; f++) {
    const contribution = Number(contributions[f]);
    if (contribution > 0) {
      const value = row[f] ?? NaN;
      factors.push({ feature: FEATURE_NAMES[f] as (typeof FEATURE_NAMES)[number], value: Number.isNaN(value) ? null : value, contribution });
    }
  }
  return factors.sort((a, b) => b.contribution - a.contribution).slice(0, TOP_FACTORS);
}

/**
 * iit-risk: probability of interruption in HIV treatment at the next scheduled visit, its band and its top
 * factors, from one ONNX graph (XGBoost classifier + its per-leaf approximate contributions). A request names a
 * stored person (`patient_id`: looked up in `prepare`, the whole request in one round trip) or carries
 * `features` inline. Without a store (the batch tier, the CLI) only inline requests are answered.
 */
export function createIitRiskPredictor(store?: FeatureStore) {
  return definePredictor({
    name: 'iit-risk',
    description: 'Risk of interruption in HIV treatment (IIT) at the next scheduled visit, with its band and top factors (model trained on SYNTHETIC data)',
    input: riskRequestSchema,
    output: riskPredictionSchema,
    example: {
      features: {
        age_years: 22,
        sex: 'male',
        months_on_art: 4,
        last_viral_load: null,
        prior_missed_visits: 2,
        prior_iit_episodes: 0,
        days_late_last_visit: 9,
        travel_time_minutes: 75,
        dispensing_months: 1,
        regimen_line: 1,
        who_stage: 2,
        tb_coinfection: false,
        pregnant_or_breastfeeding: false,
        facility_type: 'hospital',
        setting: 'urban',
      },
    },
    // Health data: never in a log line or the prediction log (top factors carry feature values).
    redactFields: ['patient_id', 'features', 'top_factors'],
    maxBatchInstances: MAX_BATCH_INSTANCES,
    defaultModelDir: path.resolve(__dirname, '../model'),
    loadArtifacts: async (_dir, card: ModelCard): Promise<IitArtifacts> => {
      const parsed = bandsSchema.safeParse(card['risk_bands']);
      if (!parsed.success) throw new ModelLoadError(`the card of version ${card.version} has no valid risk_bands.thresholds`);
      return parsed.data.thresholds;
    },
    async prepare(inputs): Promise<(PreparedRequest | HttpError)[]> {
      const ids = inputs.flatMap((i) => (i.patient_id === undefined ? [] : [i.patient_id]));
      let found: (PatientFeatures | undefined)[] = [];
      let failure: HttpError | undefined;
      if (ids.length > 0) {
        if (store === undefined) failure = new ServiceUnavailableError('no feature store here: send features inline', 'feature_store_unavailable');
        else {
          try {
            found = await store.getMany(ids);
          } catch (error) {
            // Only the store-backed instances fail; inline ones in the same batch are still answered.
            if (!(error instanceof HttpError)) throw error;
            failure = error;
          }
        }
      }
      let k = 0;
      return inputs.map((input) => {
        const inline = inlinePrepared(input);
        if (inline) return inline;
        const features = found[k++];
        if (failure) return failure;
        return features === undefined ? unknownPatient() : { features, source: 'store' };
      });
    },
    // Inline features need no lookup: a request of only those skips the prepare stage (what prepare would give).
    asPrepared: inlinePrepared,
    featurize: (prepared, _artifacts, row) => featurize(prepared.features, row.float32('features'), 0),
    toOutput: (outputs, prepared, artifacts) => {
      const score = Number(outputs['risk']?.[0]);
      const row = new Float32Array(FEATURE_COUNT);
      featurize(prepared.features, row, 0);
      return { risk_score: score, risk_band: riskBand(score, artifacts), top_factors: topFactors(outputs['contributions'] ?? [], row) };
    },
  });
}

/** The store-less predictor: the batch tier and the model CLI (promotion scores inline evaluation rows). */
export const iitRiskPredictor = createIitRiskPredictor();
