import type { Express, RequestHandler } from 'express';
import { z } from 'zod';
import type { ApiKeyAuth } from '../auth/api-keys';
import { HttpError } from '../errors/http-error';
import { methodGuard } from '../http/method-guard';
import type { OpenApiSchema, RequestDecoder } from '../http/request-decoder';

/** Who may call a route: anyone, a `predict` or `admin` key, or (for /metrics) any key when METRICS_REQUIRE_AUTH. */
export type RouteScope = 'open' | 'predict' | 'admin' | 'metrics';

export interface RouteResponse {
  description: string;
  /** Response body: a zod schema (output side), or an OpenAPI schema written out. */
  schema?: z.ZodType | OpenApiSchema;
  /** Defaults to application/json. */
  contentType?: string;
}

export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express path; `:name` parameters appear as `{name}` in the OpenAPI document. */
  path: string;
  summary: string;
  scope: RouteScope;
  /** The bodies the route accepts, by decoder, and the JSON body's schema for the document. */
  body?: { decoders: readonly RequestDecoder[]; schema?: z.ZodType; optional?: boolean; example?: unknown };
  /** Successful answers by status. */
  responses: Record<number, RouteResponse>;
  /** Error statuses the handler itself may answer (auth and body errors are added from scope and body). */
  errors?: readonly number[];
  handler: RequestHandler;
}

export type OpenApiDocument = Record<string, unknown>;

/** An OpenAPI 3.0 Schema Object from a zod schema; a type zod cannot express in it fails here, not silently. */
export function toOpenApiSchema(schema: z.ZodType, io: 'input' | 'output'): OpenApiSchema {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'throw' }) as OpenApiSchema;
  delete json['$schema'];
  return json;
}

const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
    request_id: z.string(),
  }),
});

/** 400 `missing_body` / 415 `unsupported_media_type` before the decoder a request's Content-Type selects. */
function decodeBody(body: NonNullable<RouteSpec['body']>): RequestHandler {
  const types = body.decoders.map((d) => d.mediaType);
  return (req, res, next) => {
    const type = req.is(types);
    if (type === null || req.headers['content-length'] === '0') {
      // No body at all.
      if (body.optional) {
        req.body = {};
        next();
      } else next(new HttpError(400, 'missing_body', `request body is required (${types.join(' or ')})`));
      return;
    }
    // type-is answers the list entry that matched (these are plain media types, no wildcards): no second parse.
    const decoder = type === false ? undefined : body.decoders.find((d) => d.mediaType === type);
    if (!decoder) {
      next(new HttpError(415, 'unsupported_media_type', `request body must be ${types.join(' or ')} (Content-Type)`, { details: { accepted: types } }));
      return;
    }
    decoder.decode(req, res, next);
  };
}

/**
 * The routes of a service, registered once: each goes onto the Express app with its auth and body decoding,
 * is recorded for the 404/405 guard, and is described in the OpenAPI document from the same spec, so the
 * document cannot drift from what is served. Services add their own routes before `close()`.
 */
export class RouteTable {
  private readonly specs: RouteSpec[] = [];
  private readonly methods = new Map<string, string[]>();
  private closed = false;

  constructor(
    private readonly app: Express,
    private readonly auth: ApiKeyAuth,
    private readonly metricsRequireAuth: boolean,
  ) {}

  private guard(scope: RouteScope): RequestHandler[] {
    if (scope === 'open') return [];
    if (scope === 'metrics') return this.metricsRequireAuth ? this.auth.require('any') : [];
    return this.auth.require(scope);
  }

  add(spec: RouteSpec): this {
    if (this.closed) throw new Error(`route ${spec.method.toUpperCase()} ${spec.path} added after the app was closed`);
    this.specs.push(spec);
    this.methods.set(spec.path, [...(this.methods.get(spec.path) ?? []), spec.method.toUpperCase()]);
    // Routes sit on the app itself, not a nested router: every layer costs each request a match attempt.
    this.app[spec.method](spec.path, ...this.guard(spec.scope), ...(spec.body ? [decodeBody(spec.body)] : []), spec.handler);
    return this;
  }

  /** Installs the 404/405 guard after every route; nothing can be added after. */
  close(): void {
    this.closed = true;
    methodGuard(this.app, this.methods);
  }

  get routes(): readonly RouteSpec[] {
    return this.specs;
  }

  /** The OpenAPI 3.0 document of every registered route. */
  openapi(info: { title: string; version: string; description: string }): OpenApiDocument {
    const json = (schema: OpenApiSchema) => ({ content: { 'application/json': { schema } } });
    const errorRef = { $ref: '#/components/schemas/Error' };
    const paths: Record<string, Record<string, unknown>> = {};
    for (const spec of this.specs) {
      const path = spec.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const params = [...spec.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      const secured = spec.scope === 'predict' || spec.scope === 'admin' || (spec.scope === 'metrics' && this.metricsRequireAuth);
      const errors = new Set(spec.errors ?? []);
      if (secured && this.auth.enabled) [401, 403].forEach((s) => errors.add(s));
      if (spec.body) [400, 413, 415].forEach((s) => errors.add(s));
      const responses: Record<string, unknown> = {};
      for (const [status, r] of Object.entries(spec.responses)) {
        const schema = r.schema instanceof z.ZodType ? toOpenApiSchema(r.schema, 'output') : r.schema;
        responses[status] = schema ? { description: r.description, content: { [r.contentType ?? 'application/json']: { schema } } } : { description: r.description };
      }
      for (const status of [...errors].sort()) responses[String(status)] ??= { description: `error (${status})`, ...json(errorRef) };
      const bodySchema = spec.body?.schema ? toOpenApiSchema(spec.body.schema, 'input') : undefined;
      paths[path] ??= {};
      (paths[path] as Record<string, unknown>)[spec.method] = {
        summary: spec.summary,
        security: secured && this.auth.enabled ? [{ ApiKey: [] }, { Bearer: [] }] : [],
        ...(params.length > 0 ? { parameters: params } : {}),
        ...(spec.body
          ? {
              requestBody: {
                required: !spec.body.optional,
                content: Object.fromEntries(
                  spec.body.decoders.map((d) => [
                    d.mediaType,
                    { schema: d.openapi(bodySchema), ...(spec.body?.example !== undefined && d.mediaType === 'application/json' ? { example: spec.body.example } : {}) },
                  ]),
                ),
              },
            }
          : {}),
        responses,
      };
    }
    return {
      openapi: '3.0.3',
      info,
      paths,
      components: {
        schemas: { Error: toOpenApiSchema(errorBodySchema, 'output') },
        securitySchemes: {
          ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          Bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    };
  }
}
