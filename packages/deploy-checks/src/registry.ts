import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The repository root (this package sits at packages/deploy-checks). */
export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const REGISTRY_FILE = path.join(REPO_ROOT, 'infra/services.json');

const entrySchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a DNS label: lower-case letters, digits, dashes'),
  package: z.string().startsWith('@predict/'),
  dir: z.string(),
  port: z.number().int().min(1024).max(65535),
  kind: z.enum(['prediction', 'worker']),
  bodyLimit: z.string().regex(/^\d+[km]?$/),
  jobsBodyLimit: z.string().regex(/^\d+[km]?$/).optional(),
  timeoutSeconds: z.number().int().positive(),
});
export type Deployable = z.output<typeof entrySchema>;

/** Every deployable of infra/services.json, checked (names and ports unique). */
export function loadRegistry(file = REGISTRY_FILE): Deployable[] {
  const { services } = z.object({ services: z.array(entrySchema).min(1) }).parse(JSON.parse(readFileSync(file, 'utf8')));
  for (const key of ['name', 'port'] as const) {
    const seen = new Set<unknown>();
    for (const s of services) {
      if (seen.has(s[key])) throw new Error(`${file}: ${key} ${String(s[key])} appears twice`);
      seen.add(s[key]);
    }
  }
  return services;
}

/** FLIGHT_DELAY for flight-delay: the prefix of a service's own variables in .env. */
export const envPrefix = (s: Deployable) => s.name.toUpperCase().replace(/-/g, '_');

/** Sizing per kind; the same figures in compose (limits) and Kubernetes (requests/limits, HPA bounds). */
export const SIZING = {
  prediction: { replicas: 2, cpus: '1.0', memory: '1g', k8sMemory: '1Gi', cpuRequest: '500m', memoryRequest: '512Mi', maxReplicas: 10 },
  worker: { replicas: 2, cpus: '1.0', memory: '2g', k8sMemory: '2Gi', cpuRequest: '500m', memoryRequest: '1Gi', maxReplicas: 6 },
} as const;

/** SHUTDOWN_GRACE_MS + SHUTDOWN_TIMEOUT_MS as set in compose and Kubernetes, plus margin: the stop grace. */
export const SHUTDOWN = { graceMs: 5_000, timeoutMs: 20_000, stopGraceSeconds: 35 } as const;
