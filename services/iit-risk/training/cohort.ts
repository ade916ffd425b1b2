/**
 * A seeded SYNTHETIC cohort of people on antiretroviral therapy (ART) and their true risk of interruption in
 * treatment (IIT: no clinical contact or drug pick-up for more than 28 days after a missed scheduled visit,
 * PEPFAR's definition) at their next scheduled visit. No real person's data is used anywhere.
 *
 * Each risk factor below moves the log-odds of IIT in the direction the literature reports (the `source` says
 * where). The sizes are illustrative, chosen to give a plausible spread (about one person in eight
 * interrupts); they are not estimates from any study. Labels are drawn from the true risk, so the model card
 * can report how well the model recovers it.
 */
import { mulberry32, normal } from '@predict/model-tools';
import type { FacilityType, PatientFeatures } from '../src/features';

export interface RiskFactor {
  readonly factor: string;
  readonly direction: 'higher risk' | 'lower risk' | 'mixed';
  readonly effect: string;
  readonly source: string;
}

/** The generating model, documented: training/README.md and the model card carry this table. */
export const RISK_FACTORS: readonly RiskFactor[] = [
  { factor: 'age 15-24 (adolescents, young adults)', direction: 'higher risk', effect: '+0.6 log-odds (25-29: +0.3; 50+: -0.2)', source: 'Lamb MR et al. AIDS 2014;28:559-568 (attrition among youth 15-24 in sub-Saharan Africa)' },
  { factor: 'male sex', direction: 'higher risk', effect: '+0.3', source: 'Beckham SW et al. J Int AIDS Soc 2016;19:20855 (men and HIV care engagement, review)' },
  { factor: 'first 6 months on ART', direction: 'higher risk', effect: '+0.9 (6-12 months: +0.4)', source: 'Fox MP, Rosen S. Trop Med Int Health 2010;15 Suppl 1:1-15 (attrition highest in the first year on ART)' },
  { factor: 'last viral load unsuppressed (>= 1000 copies/mL)', direction: 'higher risk', effect: '+0.6; no result yet +0.2', source: 'WHO consolidated HIV guidelines 2021 (unsuppression signals adherence problems)' },
  { factor: 'prior missed visits (12 months)', direction: 'higher risk', effect: '+0.35 each, up to 4', source: 'Maskew M et al. Sci Rep 2022;12:12715 (visit history is the strongest IIT predictor)' },
  { factor: 'prior IIT episodes', direction: 'higher risk', effect: '+0.5 each, up to 3', source: 'Maskew M et al. Sci Rep 2022;12:12715' },
  { factor: 'days late at the last visit', direction: 'higher risk', effect: '+0.025 per day, up to 28 days', source: 'Maskew M et al. Sci Rep 2022;12:12715 (lateness at prior visits)' },
  { factor: 'travel time to the facility', direction: 'higher risk', effect: '+0.008 per minute beyond 30, up to 120 minutes', source: 'Bilinski A et al. AIDS 2017;31:2453-2461 (distance to care and loss to follow-up)' },
  { factor: 'multi-month dispensing (3 or 6 months)', direction: 'lower risk', effect: '-0.4 (6 months: -0.6)', source: 'Hoffman RM et al. Lancet Glob Health 2021;9:e628-e638 (INTERVAL trial of 3- and 6-month dispensing)' },
  { factor: 'second or third-line regimen', direction: 'higher risk', effect: '+0.15 / +0.3', source: 'Fox MP, Rosen S. JAIDS 2015;69:98-108 (review; weaker, mixed evidence)' },
  { factor: 'WHO clinical stage 3 or 4', direction: 'higher risk', effect: '+0.2 / +0.45', source: 'Fox MP, Rosen S. Trop Med Int Health 2010 (advanced disease, attrition incl. unrecorded death)' },
  { factor: 'TB co-infection', direction: 'higher risk', effect: '+0.3', source: 'Fox MP, Rosen S. Trop Med Int Health 2010' },
  { factor: 'pregnant or breastfeeding', direction: 'higher risk', effect: '+0.4', source: "Tenthani L et al. AIDS 2014;28:589-598 (Malawi's Option B+: loss to follow-up early in pregnancy)" },
  { factor: 'facility type: hospital / community', direction: 'mixed', effect: 'hospital +0.2, community-based -0.3 (health centre 0)', source: 'Tenthani L et al. AIDS 2014 (larger facilities, higher loss); Fatti G et al. 2020 (community models)' },
  { factor: 'urban setting', direction: 'higher risk', effect: '+0.1 (mobility)', source: 'Fox MP, Rosen S. JAIDS 2015 (weak, mixed evidence)' },
  { factor: 'young and new on ART together', direction: 'higher risk', effect: '+0.3 more (interaction)', source: 'Lamb MR et al. AIDS 2014' },
];

/** Intercept of the log-odds: about 12 % of the cohort interrupts. */
export const INTERCEPT = -3.1;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The true probability of IIT at the next visit for a person (the generating model above). */
export function trueRisk(p: PatientFeatures): number {
  const young = p.age_years >= 15 && p.age_years <= 24;
  const early = p.months_on_art < 6;
  let z = INTERCEPT;
  z += young ? 0.6 : p.age_years >= 25 && p.age_years <= 29 ? 0.3 : p.age_years >= 50 ? -0.2 : 0;
  z += p.sex === 'male' ? 0.3 : 0;
  z += early ? 0.9 : p.months_on_art < 12 ? 0.4 : 0;
  z += p.last_viral_load === null ? 0.2 : p.last_viral_load >= 1000 ? 0.6 : 0;
  z += 0.35 * Math.min(4, p.prior_missed_visits);
  z += 0.5 * Math.min(3, p.prior_iit_episodes);
  z += 0.025 * Math.min(28, p.days_late_last_visit);
  z += 0.008 * Math.min(90, Math.max(0, p.travel_time_minutes - 30));
  z += p.dispensing_months >= 6 ? -0.6 : p.dispensing_months >= 3 ? -0.4 : 0;
  z += p.regimen_line === 3 ? 0.3 : p.regimen_line === 2 ? 0.15 : 0;
  z += p.who_stage === 4 ? 0.45 : p.who_stage === 3 ? 0.2 : 0;
  z += p.tb_coinfection ? 0.3 : 0;
  z += p.pregnant_or_breastfeeding ? 0.4 : 0;
  z += p.facility_type === 'hospital' ? 0.2 : p.facility_type === 'community' ? -0.3 : 0;
  z += p.setting === 'urban' ? 0.1 : 0;
  z += young && early ? 0.3 : 0;
  return sigmoid(z);
}

export interface CohortMember {
  readonly features: PatientFeatures;
  readonly risk: number;
  readonly interrupted: boolean;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** A count with mean `mean` (geometric), capped. */
function count(random: () => number, mean: number, cap: number): number {
  const q = mean / (1 + mean);
  let n = 0;
  while (n < cap && random() < q) n++;
  return n;
}

function pick<T>(random: () => number, choices: readonly (readonly [T, number])[]): T {
  let u = random();
  for (const [value, weight] of choices) {
    if (u < weight) return value;
    u -= weight;
  }
  return (choices[choices.length - 1] as readonly [T, number])[0];
}

/** One synthetic person: marginal distributions loosely shaped like a national ART cohort. */
export function synthesize(random: () => number): PatientFeatures {
  const age = random() < 0.14 ? 15 + Math.floor(random() * 10) : clamp(Math.round(38 + 11 * normal(random)), 10, 85);
  const sex = random() < 0.62 ? 'female' : 'male';
  const months = random() < 0.12 ? Math.round(random() * 60) / 10 : Math.min(300, Math.round((6 + -50 * Math.log(1 - random())) * 10) / 10);
  const noResult = months < 6 ? random() < 0.7 : random() < 0.05;
  const unsuppressed = random() < (age <= 24 ? 0.2 : 0.1);
  const vl = noResult ? null : unsuppressed ? Math.round(10 ** (3 + 3 * random())) : random() < 0.5 ? 0 : Math.round(20 + 979 * random());
  const youngFactor = age <= 24 ? 1.5 : 1;
  const facility: FacilityType = pick(random, [
    ['hospital', 0.3],
    ['health_centre', 0.55],
    ['community', 0.15],
  ]);
  const rural = random() < 0.45;
  const dispensing = months < 6 || unsuppressed ? (random() < 0.8 ? 1 : 2) : pick(random, [[1, 0.2], [2, 0.1], [3, 0.45], [6, 0.25]] as const);
  return {
    age_years: age,
    sex,
    months_on_art: months,
    last_viral_load: vl,
    prior_missed_visits: count(random, 0.7 * youngFactor, 12),
    prior_iit_episodes: months < 6 ? 0 : count(random, 0.25 * youngFactor, 6),
    days_late_last_visit: random() < 0.7 ? 0 : 1 + count(random, 8, 90),
    travel_time_minutes: clamp(Math.round(Math.exp(Math.log(rural ? 50 : 25) + 0.6 * normal(random))), 1, 600),
    dispensing_months: dispensing,
    regimen_line: pick(random, [[1, 0.85], [2, 0.13], [3, 0.02]] as const),
    who_stage: pick(random, [[1, 0.45], [2, 0.25], [3, 0.2], [4, 0.1]] as const),
    tb_coinfection: random() < 0.06,
    pregnant_or_breastfeeding: sex === 'female' && age >= 15 && age <= 49 && random() < 0.1,
    facility_type: facility,
    setting: rural ? 'rural' : 'urban',
  };
}

/** `n` people from `seed`, with their true risk and a label drawn from it. */
export function generateCohort(n: number, seed: number): CohortMember[] {
  const random = mulberry32(seed);
  const out: CohortMember[] = [];
  for (let i = 0; i < n; i++) {
    const features = synthesize(random);
    const risk = trueRisk(features);
    out.push({ features, risk, interrupted: random() < risk });
  }
  return out;
}
