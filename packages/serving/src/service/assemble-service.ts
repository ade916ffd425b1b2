import type { ServingEnv } from '../config/serving-config';
import type { PredictorDefinition } from '../inference/predictor';
import type { ShutdownStep } from '../lifecycle/shutdown';
import { PredictorRuntime } from '../inference/predictor-runtime';
import { ServiceState } from '../lifecycle/service-state';
import type { Logger } from '../logging/logger';
import type { ServingMetrics } from '../metrics/metrics';
import { createJobs } from '../jobs/create-jobs';
import { createPredictionLog } from '../prediction-log/create-prediction-log';
import { createServiceApp, type ServiceAppDeps } from './create-service-app';
import { runtimeOptions } from './runtime-options';

export interface AssembleOptions<I, O, A, P, C extends ServingEnv = ServingEnv> {
  service: string;
  version: string;
  predictor: PredictorDefinition<I, O, A, P>;
  config: C;
  logger: Logger;
  metrics: ServingMetrics;
  /** Defaults to createServiceApp; a service that adds routes passes its own createApp. */
  createApp?: (deps: ServiceAppDeps<I, O, A, P>) => ReturnType<typeof createServiceApp>;
  /** What a service owns besides the model (a feature store's Redis…), made once its config is loaded. */
  parts?: (context: { config: C; logger: Logger; metrics: ServingMetrics }) => ServiceParts<I, O, A, P>;
}

/**
 * A service's own long-lived parts: they may replace the predictor (one whose prepare reads their store) and
 * createApp, start with the service and stop after the HTTP drain, before the model sessions are released.
 */
export interface ServiceParts<I, O, A, P> {
  predictor?: PredictorDefinition<I, O, A, P>;
  createApp?: (deps: ServiceAppDeps<I, O, A, P>) => ReturnType<typeof createServiceApp>;
  start?(): void;
  stopSteps?: readonly ShutdownStep[];
}

/**
 * The parts of a prediction service and how they start and stop, wired once for runService (which adds
 * listening and signals) and for the test service (which does not): the runtime, the drain state, the
 * prediction log when PREDICTION_LOG=on, and the app.
 */
export function assembleService<I, O, A, P, C extends ServingEnv = ServingEnv>(options: AssembleOptions<I, O, A, P, C>) {
  const { config, logger, metrics } = options;
  const parts = options.parts?.({ config, logger, metrics }) ?? {};
  const runtime = new PredictorRuntime(parts.predictor ?? options.predictor, runtimeOptions(config, logger, metrics));
  const state = new ServiceState();
  // Its Redis connects in the background; predictions never wait for it.
  const predictionLog = createPredictionLog(config, { service: options.service, logger, metrics, redactFields: runtime.definition.redactFields });
  // Batch jobs (REDIS_URL set, JOBS=on): their own fail-fast connection; nothing else waits on it.
  const jobs = createJobs(config, { service: options.service, logger });
  const deps: ServiceAppDeps<I, O, A, P> = {
    service: options.service,
    version: options.version,
    config,
    logger,
    metrics,
    runtime,
    state,
    ...predictionLog?.appDeps,
    ...(jobs ? { jobs } : {}),
  };
  const app = (parts.createApp ?? options.createApp ?? createServiceApp)(deps);
  /** After the HTTP drain no prediction is recorded: write what the log holds (bounded), quit Redis, stop the service's parts, release the model. */
  const ownSteps = [...(predictionLog?.shutdownSteps() ?? []), ...(jobs?.shutdownSteps() ?? []), ...(parts.stopSteps ?? [])];
  const stopSteps = [...ownSteps, { name: 'release model sessions', run: () => runtime.stop() }];
  return {
    deps,
    app,
    stopSteps,
    /** Starts the prediction log and (unless `loadModel` is false) loads the model and follows the `active` pointer. */
    async start(loadModel = true): Promise<void> {
      predictionLog?.start();
      jobs?.start();
      parts.start?.();
      if (!loadModel) return;
      try {
        await runtime.start();
      } catch (error) {
        // The model never loaded: stop what start() started, nothing to release.
        for (const step of ownSteps) await step.run();
        throw error;
      }
      runtime.watch(config.MODEL_POLL_INTERVAL_MS);
    },
  };
}
