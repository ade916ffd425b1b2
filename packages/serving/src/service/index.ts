export { createServiceApp, type ServiceAppDeps, type ServiceAppExtensions, type ServiceResource, type AppConfig } from './create-service-app';
export { runService, runtimeOptions, packageVersion, type RunServiceOptions } from './run-service';
export { RouteTable, toOpenApiSchema, type RouteSpec, type RouteScope, type RouteResponse, type OpenApiDocument } from './route-table';
export * from './prediction-schemas';
