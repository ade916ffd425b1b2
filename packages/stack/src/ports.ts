import type { ServiceEntry } from './services';

/**
 * Where each replica listens. Without a base, replica r of a service listens on the service's own port
 * (infra/services.json) + 100·r: one replica each serves every service on its documented port (8001, 8002…).
 * With a base, replicas take consecutive ports from it in infra/services.json order (tests: 7201, 7202…).
 */
export function replicaPorts(services: ServiceEntry[], counts: ReadonlyMap<string, number>, portBase?: number): Map<string, number[]> {
  const layout = new Map<string, number[]>();
  let next = portBase;
  for (const s of services) {
    const n = counts.get(s.name) ?? 1;
    const ports: number[] = [];
    for (let r = 0; r < n; r++) {
      if (next === undefined) ports.push(s.port + 100 * r);
      else ports.push(next++);
    }
    layout.set(s.name, ports);
  }
  const all = [...layout.values()].flat();
  const clash = all.find((p, i) => all.indexOf(p) !== i);
  if (clash !== undefined) throw new Error(`two replicas would listen on port ${clash}: pass a port base or fewer replicas`);
  const high = all.find((p) => p > 65535);
  if (high !== undefined) throw new Error(`port ${high} is out of range: lower the port base or the replica counts`);
  return layout;
}

/** `flight-delay=3,taxi-eta=2` → counts per service; names must be listed, counts 0–20 (0 leaves it out). */
export function parseReplicas(spec: string, services: ServiceEntry[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(part);
    if (!match) throw new Error(`--replicas: '${part}' is not name=count (e.g. flight-delay=3)`);
    const [, name, count] = match as unknown as [string, string, string];
    if (!services.some((s) => s.name === name)) {
      throw new Error(`--replicas: '${name}' is not in infra/services.json (${services.map((s) => s.name).join(', ')})`);
    }
    const n = Number(count);
    if (n > 20) throw new Error(`--replicas: ${name}=${n}: at most 20 replicas per service`);
    counts.set(name, n);
  }
  return counts;
}
