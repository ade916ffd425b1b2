export { ConfigError } from './config-error';
export { parseEnv, intVar, numberVar, boolVar, listVar, optionalStringVar, availableThreads } from './env';
export { servingEnvSchema, loadServingConfig, type ServingEnv } from './serving-config';
