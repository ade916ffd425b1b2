export { buildOpenApi, type OpenApiDocument, withModel, batchRequestSchema, errorBodySchema, modelRefSchema } from './openapi';
