import { z } from 'zod';
import { FACILITY_TYPES, FEATURE_NAMES } from './features';

/** Most instances in one `POST /v1/predict/batch`. */
export const MAX_BATCH_INSTANCES = 1000;

/** A programme's patient identifier: 1-64 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const patientIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 characters: letters, digits, ".", "_" or "-", starting with a letter or digit')
  .describe('Patient identifier (never logged; audit records keep only its HMAC)');

/** A facility (clinic) identifier: same charset as patient ids. Not health data; it names the roster a facility job scores. */
export const facilityIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 characters: letters, digits, ".", "_" or "-", starting with a letter or digit')
  .describe('Facility identifier: the person is on this facility’s roster (facility batch jobs)');

/** `{facility_id}`: the facility routes' path parameters and the batch `facility` source's params. */
export const facilityParamsSchema = z.object({ facility_id: facilityIdSchema }).strict();

const count = (max: number, what: string) => z.number().int().min(0).max(max).describe(what);

/** A person's current features: what PUT stores and what `{features}` carries. */
export const patientFeaturesSchema = z
  .object({
    age_years: z.number().int().min(0).max(120).describe('Age in whole years'),
    sex: z.enum(['female', 'male']),
    months_on_art: z.number().min(0).max(600).describe('Months since ART initiation'),
    last_viral_load: z.number().min(0).max(1e8).nullable().describe('Last viral load, copies/mL; null when there is no result yet'),
    prior_missed_visits: count(100, 'Missed scheduled visits in the last 12 months'),
    prior_iit_episodes: count(50, 'Earlier interruptions in treatment'),
    days_late_last_visit: count(365, 'Days late at the last visit (0 = on time)'),
    travel_time_minutes: z.number().min(0).max(1440).describe('One-way travel time to the facility, minutes'),
    dispensing_months: z.number().int().min(1).max(12).describe('Months of ART dispensed at the last visit (3-6: multi-month dispensing)'),
    regimen_line: z.number().int().min(1).max(3).describe('ART regimen line: 1, 2 or 3'),
    who_stage: z.number().int().min(1).max(4).describe('WHO clinical stage 1-4'),
    tb_coinfection: z.boolean(),
    pregnant_or_breastfeeding: z.boolean(),
    facility_type: z.enum(FACILITY_TYPES),
    setting: z.enum(['urban', 'rural']),
  })
  .strict();

/**
 * What `PUT /v1/patients/:patient_id/features` takes and the store keeps (one validated JSON record): the
 * features plus, optionally, the facility whose roster the person is on (its index is kept with the record).
 */
export const storedPatientSchema = patientFeaturesSchema.extend({ facility_id: facilityIdSchema.optional() }).strict();

/** One prediction request: a stored person by `patient_id`, or `features` inline (exactly one of them). */
export const riskRequestSchema = z
  .object({
    patient_id: patientIdSchema.optional(),
    features: patientFeaturesSchema.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.patient_id === undefined) === (v.features === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of patient_id (features from the store) or features (inline)', path: [] });
    }
  });

export const RISK_BANDS = ['low', 'medium', 'high'] as const;

/** One answer (the service adds `model`). */
export const riskPredictionSchema = z.object({
  risk_score: z.number().min(0).max(1).describe('Probability of interruption in treatment at the next scheduled visit'),
  risk_band: z.enum(RISK_BANDS).describe("The model card's risk_bands: thresholds chosen on validation data, with what each band means operationally"),
  top_factors: z
    .array(
      z.object({
        feature: z.enum(FEATURE_NAMES),
        value: z.number().nullable().describe('The feature value the model saw (null: missing)'),
        contribution: z.number().describe('Push on the log-odds of interruption (XGBoost approximate contribution)'),
      }),
    )
    .max(3)
    .describe('The features that pushed this person’s risk up most, largest first'),
});

export type RiskRequest = z.output<typeof riskRequestSchema>;
export type RiskPrediction = z.output<typeof riskPredictionSchema>;
export type PatientFeaturesInput = z.output<typeof patientFeaturesSchema>;
export type StoredPatient = z.output<typeof storedPatientSchema>;
