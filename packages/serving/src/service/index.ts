export { createServiceApp, type ServiceAppDeps, type AppConfig } from './create-service-app';
export { runService, runtimeOptions, packageVersion, type RunServiceOptions } from './run-service';
