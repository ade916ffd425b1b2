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

/** The version `model/active` names: the one the service serves (`pnpm promote` / `rollback` move it). */
export const SERVED_VERSION = readFileSync(path.resolve(__dirname, '../model/active'), 'utf8').trim();

/** Held-out SYNTHETIC people of a version's golden file (the served one by default), with XGBoost's outputs. */
export function goldenRows(version = SERVED_VERSION) {
  const file = path.resolve(__dirname, '../model', version, 'golden.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { tolerance: number; rows: { input: { features: PatientFeaturesInput }; risk: number; contributions: number[] }[] }).rows;
}
