export { createServiceApp, type ServiceAppDeps, type ServiceAppExtensions, type AppConfig } from './create-service-app';
export { runService, runtimeOptions, packageVersion, configOrExit, type RunServiceOptions } from './run-service';
export { RouteTable, toOpenApiSchema, type RouteSpec, type RouteScope, type RouteResponse, type OpenApiDocument } from './route-table';
export * from './prediction-schemas';
export type { ServiceParts } from './assemble-service';
export type { AnsweredPredictions } from './create-service-app';
