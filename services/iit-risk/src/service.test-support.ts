import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startTestService, type TestService } from '@predict/serving/testing';
import { loadConfig } from './config';
import { iitRiskParts } from './parts';
import { iitRiskPredictor } from './predictor';
import type { PatientFeaturesInput } from './schema';

/** The audit HMAC key of every test (the service refuses to start without one). */
export const TEST_HMAC_KEY = 'test-only-hmac-key-0123456789abcdef';

/** iit-risk wired as main.ts wires it (real config, model, Redis connection, audit), without listening. */
export function startIitService(env: Record<string, string>): Promise<TestService> {
  return startTestService({ predictor: iitRiskPredictor, loadConfig, parts: iitRiskParts, env: { AUDIT_HMAC_KEY: TEST_HMAC_KEY, ...env } });
}

/** Held-out SYNTHETIC people of the golden file of version 1, with XGBoost's outputs. */
export function goldenRows(version = '1') {
  const file = path.resolve(__dirname, '../model', version, 'golden.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { tolerance: number; rows: { input: { features: PatientFeaturesInput }; risk: number; contributions: number[] }[] }).rows;
}
