import type { ServingEnv } from '../config/serving-config';
import type { PredictorDefinition } from '../inference/predictor';
import { PredictorRuntime } from '../inference/predictor-runtime';
import { ServiceState } from '../lifecycle/service-state';
import type { Logger } from '../logging/logger';
import type { ServingMetrics } from '../metrics/metrics';
import { createPredictionLog } from '../prediction-log/create-prediction-log';
import { createServiceApp, type ServiceAppDeps, type ServiceResource } from './create-service-app';
import { runtimeOptions } from './runtime-options';

export interface AssembleOptions<I, O, A, P> {
  service: string;
  version: string;
  predictor: PredictorDefinition<I, O, A, P>;
  config: ServingEnv;
  logger: Logger;
  metrics: ServingMetrics;
  /** Defaults to createServiceApp; a service that adds routes passes its own createApp. */
  createApp?: (deps: ServiceAppDeps<I, O, A, P>) => ReturnType<typeof createServiceApp>;
}

/**
 * The parts of a prediction service and how they start and stop, wired once for runService (which adds
 * listening and signals) and for the test service (which does not): the runtime, the drain state, the
 * prediction log when PREDICTION_LOG=on, and the app.
 */
export function assembleService<I, O, A, P>(options: AssembleOptions<I, O, A, P>) {
  const { config, logger, metrics } = options;
  const runtime = new PredictorRuntime(options.predictor, runtimeOptions(config, logger, metrics));
  const state = new ServiceState();
  // Its Redis connects in the background; predictions never wait for it.
  const predictionLog = createPredictionLog(config, { service: options.service, logger, metrics });
  const deps: ServiceAppDeps<I, O, A, P> = { service: options.service, version: options.version, config, logger, metrics, runtime, state, ...predictionLog?.appDeps };
  const resources: ServiceResource[] = [];
  const app = (options.createApp ?? createServiceApp)({ ...deps, resources });
  /** After the HTTP drain no prediction is recorded: write what the log holds (bounded), quit Redis, stop the app's own resources, release the model. */
  const stopSteps = [
    ...(predictionLog?.shutdownSteps() ?? []),
    ...resources.map((r) => ({ name: `stop ${r.name}`, run: () => r.stop() })),
    { name: 'release model sessions', run: () => runtime.stop() },
  ];
  return {
    deps,
    app,
    stopSteps,
    /** Starts the prediction log and (unless `loadModel` is false) loads the model and follows the `active` pointer. */
    async start(loadModel = true): Promise<void> {
      predictionLog?.start();
      for (const resource of resources) resource.start();
      if (!loadModel) return;
      try {
        await runtime.start();
      } catch (error) {
        for (const step of predictionLog?.shutdownSteps() ?? []) await step.run();
        for (const resource of resources) await resource.stop();
        throw error;
      }
      runtime.watch(config.MODEL_POLL_INTERVAL_MS);
    },
  };
}
