import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The repository root: this package sits at packages/stack. */
export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const SERVICES_FILE = path.join(REPO_ROOT, 'infra/services.json');

/** nginx's size syntax: a number with an optional k/m/g suffix. */
const nginxSize = z.string().regex(/^\d+[kKmMgG]?$/, 'an nginx size such as 1m, 512k or 512m');

const serviceSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'lowercase letters, digits and dashes (it is a URL prefix and a compose service name)'),
  package: z.string().min(1),
  dir: z.string().min(1),
  port: z.number().int().min(1024).max(65535),
  kind: z.enum(['prediction', 'worker']),
  bodyLimit: nginxSize,
  jobsBodyLimit: nginxSize.optional(),
  timeoutSeconds: z.number().int().min(1).max(3600),
  /**
   * Variables the service refuses to start without and that must never be committed (e.g. iit-risk's
   * AUDIT_HMAC_KEY): compose requires them from .env, Kubernetes reads them from the Secret, and `pnpm stack`
   * makes a random one for the run when unset.
   */
  /**
   * The service's own routes whose path holds an identifier, as templates (`/v1/patients/:patient_id/features`):
   * nginx's access log records the template, never the raw path.
   */
  routes: z.array(z.string().regex(/^(\/(:[a-z_]+|[A-Za-z0-9_.-]+))+$/, 'a path template: /segment or /:param per segment')).default([]),
  secrets: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'an environment variable name')).default([]),
  /**
   * Node/V8 flags the service runs with, as NODE_OPTIONS (compose, Kubernetes and `pnpm stack` set it; a
   * NODE_OPTIONS of the caller's own is appended, so its flags win). Only flags NODE_OPTIONS accepts.
   */
  nodeOptions: z
    .string()
    .regex(/^--[a-z0-9-]+(=[A-Za-z0-9._-]+)?( --[a-z0-9-]+(=[A-Za-z0-9._-]+)?)*$/, 'flags such as --max-semi-space-size=2, separated by single spaces')
    .optional(),
});

export type ServiceEntry = z.output<typeof serviceSchema>;

const fileSchema = z.object({ services: z.array(serviceSchema).min(1) }).superRefine((file, ctx) => {
  const seen = new Set<string>();
  for (const [i, s] of file.services.entries()) {
    if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['services', i, 'name'], message: `duplicate name '${s.name}'` });
    if (seen.has(`port ${s.port}`)) ctx.addIssue({ code: 'custom', path: ['services', i, 'port'], message: `duplicate port ${s.port}` });
    seen.add(s.name);
    seen.add(`port ${s.port}`);
    if (s.kind === 'prediction' && s.jobsBodyLimit === undefined) {
      ctx.addIssue({ code: 'custom', path: ['services', i, 'jobsBodyLimit'], message: 'a prediction service needs one (POST /v1/jobs)' });
    }
  }
});

/** infra/services.json, checked: a bad entry throws naming its path and the reason. */
export function loadServices(file = SERVICES_FILE): ServiceEntry[] {
  const parsed = fileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`${path.relative(process.cwd(), file) || file} is invalid: ${problems}`);
  }
  return parsed.data.services;
}

/** NODE_OPTIONS for a service's process: its own flags (infra/services.json), then the caller's, which win. */
export function nodeOptionsFor(service: ServiceEntry, callers: string | undefined): string | undefined {
  const parts = [service.nodeOptions, callers?.trim()].filter((p): p is string => p !== undefined && p !== '');
  return parts.length === 0 ? undefined : parts.join(' ');
}

/** The service's start script (its package's `main`, built by `pnpm build`). */
export function entryScript(service: ServiceEntry, root = REPO_ROOT): string {
  return path.join(root, service.dir, 'dist/main.js');
}

export type Presence = { present: true } | { present: false; why: 'absent' | 'unbuilt'; reason: string };

/**
 * Whether a listed service can run here: its package exists and is built. A listed package that another
 * branch adds (not merged yet) is skipped by every caller with this reason, never a crash.
 */
export function presence(service: ServiceEntry, root = REPO_ROOT): Presence {
  if (!existsSync(path.join(root, service.dir, 'package.json'))) {
    return { present: false, why: 'absent', reason: `${service.package} is listed in infra/services.json but ${service.dir} does not exist here` };
  }
  if (!existsSync(entryScript(service, root))) {
    return { present: false, why: 'unbuilt', reason: `${service.package} is not built (${service.dir}/dist/main.js is missing): run pnpm build` };
  }
  return { present: true };
}
