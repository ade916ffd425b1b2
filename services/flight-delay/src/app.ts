import { createServiceApp, type ServiceAppDeps } from '@predict/serving';
import type { FeatureTables } from './features';
import type { FlightPrediction, FlightRequest } from './schema';

export type AppDeps = ServiceAppDeps<FlightRequest, FlightPrediction, FeatureTables>;

/**
 * The flight-delay HTTP app: the platform's standard prediction routes (`/v1/predict`, `/v1/predict/batch`,
 * `/v1/model`, admin reload, health, metrics, OpenAPI). Never listens; main.ts does.
 */
export function createApp(deps: AppDeps) {
  return createServiceApp(deps);
}
