import { createServiceApp, type ServiceAppDeps } from '@predict/serving';
import type { TaxiArtifacts } from './predictor';
import type { EtaPrediction, EtaRequest } from './schema';

export type AppDeps = ServiceAppDeps<EtaRequest, EtaPrediction, TaxiArtifacts>;

/**
 * The taxi-eta HTTP app: the platform's standard routes with the prediction routes at `/v1/eta` and
 * `/v1/eta/batch` (plus `/v1/model`, model admin, health, metrics, OpenAPI). Never listens; main.ts does.
 */
export function createApp(deps: AppDeps) {
  return createServiceApp(deps, { predictPath: '/v1/eta' });
}
