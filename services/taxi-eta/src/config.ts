import { intVar, loadServingConfig, servingEnvSchema } from '@predict/serving';

/** taxi-eta reads every serving variable (README.md lists them); only its default port is its own. */
export const envSchema = servingEnvSchema.extend({
  PORT: intVar(8002, 0, 65535),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadServingConfig(env, envSchema);
}
