/**
 * A person's features -> the model's feature row. The ONE place features are computed: the service calls
 * `featurize` for every prediction (inline or from the feature store) and training/export.ts calls it for every
 * person of the synthetic cohort, so training and serving cannot drift apart.
 */

/** Column order of the model input `features` [N, FEATURE_COUNT]; any change needs a retrain. */
export const FEATURE_NAMES = [
  'age_years',
  'sex_male', // 1 male, 0 female
  'months_on_art',
  'log10_viral_load', // log10(copies/mL + 1) of the last result; missing (NaN) when there is none
  'viral_unsuppressed', // 1 when the last result is >= 1000 copies/mL, 0 below; missing without a result
  'prior_missed_visits', // missed scheduled visits in the last 12 months
  'prior_iit_episodes', // earlier interruptions in treatment (> 28 days late)
  'days_late_last_visit', // 0 when on time
  'travel_time_minutes', // one way, to the facility
  'dispensing_months', // ART months dispensed at the last visit (3-6 = multi-month dispensing)
  'regimen_line', // 1, 2, 3
  'who_stage', // 1..4
  'tb_coinfection',
  'pregnant_or_breastfeeding',
  'facility_type', // 0 hospital, 1 health_centre, 2 community (FACILITY_TYPES)
  'rural', // 1 rural facility, 0 urban
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export const FEATURE_COUNT = FEATURE_NAMES.length;
/** Column of each feature, e.g. `out[offset + COLUMN.months_on_art]`. */
export const COLUMN = Object.freeze(Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, i])) as Record<FeatureName, number>);

export const FACILITY_TYPES = ['hospital', 'health_centre', 'community'] as const;
export type FacilityType = (typeof FACILITY_TYPES)[number];

/** Viral load at or above this (copies/mL) is unsuppressed (WHO's threshold for treatment failure). */
export const UNSUPPRESSED_COPIES = 1000;

/** A person's current features: what the store holds and what `{features}` carries (the schema checks shapes and ranges). */
export interface PatientFeatures {
  readonly age_years: number;
  readonly sex: 'female' | 'male';
  readonly months_on_art: number;
  /** Copies/mL of the last viral load result; null when there is none yet. */
  readonly last_viral_load: number | null;
  readonly prior_missed_visits: number;
  readonly prior_iit_episodes: number;
  readonly days_late_last_visit: number;
  readonly travel_time_minutes: number;
  readonly dispensing_months: number;
  readonly regimen_line: number;
  readonly who_stage: number;
  readonly tb_coinfection: boolean;
  readonly pregnant_or_breastfeeding: boolean;
  readonly facility_type: FacilityType;
  readonly setting: 'urban' | 'rural';
}

/** Writes one row of FEATURE_COUNT float32 values at `offset`. */
export function featurize(p: PatientFeatures, out: Float32Array, offset: number): void {
  const vl = p.last_viral_load;
  out[offset + COLUMN.age_years] = p.age_years;
  out[offset + COLUMN.sex_male] = p.sex === 'male' ? 1 : 0;
  out[offset + COLUMN.months_on_art] = p.months_on_art;
  out[offset + COLUMN.log10_viral_load] = vl === null ? NaN : Math.log10(vl + 1);
  out[offset + COLUMN.viral_unsuppressed] = vl === null ? NaN : vl >= UNSUPPRESSED_COPIES ? 1 : 0;
  out[offset + COLUMN.prior_missed_visits] = p.prior_missed_visits;
  out[offset + COLUMN.prior_iit_episodes] = p.prior_iit_episodes;
  out[offset + COLUMN.days_late_last_visit] = p.days_late_last_visit;
  out[offset + COLUMN.travel_time_minutes] = p.travel_time_minutes;
  out[offset + COLUMN.dispensing_months] = p.dispensing_months;
  out[offset + COLUMN.regimen_line] = p.regimen_line;
  out[offset + COLUMN.who_stage] = p.who_stage;
  out[offset + COLUMN.tb_coinfection] = p.tb_coinfection ? 1 : 0;
  out[offset + COLUMN.pregnant_or_breastfeeding] = p.pregnant_or_breastfeeding ? 1 : 0;
  out[offset + COLUMN.facility_type] = FACILITY_TYPES.indexOf(p.facility_type);
  out[offset + COLUMN.rural] = p.setting === 'rural' ? 1 : 0;
}
