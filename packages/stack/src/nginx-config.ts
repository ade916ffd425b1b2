import { readFileSync } from 'node:fs';
import path from 'node:path';
import Mustache from 'mustache';
import { REPO_ROOT, type ServiceEntry } from './services';

export const NGINX_TEMPLATE = path.join(REPO_ROOT, 'infra/nginx/nginx.conf.mustache');
/** Compose's rendering; @predict/deploy-checks writes it with the rest of its generated files. */
export const COMPOSE_NGINX_CONF = path.join(REPO_ROOT, 'infra/nginx/compose.conf');
/** The cluster's rendering; @predict/deploy-checks writes it with the rest of the Kubernetes base (its configMapGenerator). */
export const K8S_NGINX_CONF = path.join(REPO_ROOT, 'infra/k8s/base/nginx.conf');

/** Compose: the image is pinned (docker-compose.yml) to 1.30, which has `server … resolve` (>= 1.27.3). */
/** Ports inside the container: docker-compose.yml publishes ${HTTP_PORT:-8080}:80 (and its healthcheck calls :80). */
export const COMPOSE_NGINX = { httpPort: 80, tlsPort: 443, resolver: '127.0.0.11', certDir: '/etc/nginx/certs' } as const;

/**
 * Kubernetes (nginx:1.30 too, unprivileged: port 8080, files under /tmp). Upstreams are the headless Services
 * `<service>-pods` (infra/k8s/base), whose DNS answers list the ready pods: nginx balances, retries and ejects
 * per pod as in compose, and `resolve` follows the HPA. nginx's resolver does not use resolv.conf's search
 * domains, so names are fully qualified with the namespace (the production overlay's) and the cluster domain.
 * The resolver is kube-dns by its Service name (CoreDNS keeps that name), resolved once at start-up through the
 * pod's resolv.conf, so no cluster-specific IP is written here. Requests come from the ingress controller:
 * the client address is taken from X-Forwarded-For when the peer is on a private (pod network) address.
 */
export const K8S_NGINX = {
  httpPort: 8080,
  namespace: 'prediction-services',
  clusterDomain: 'cluster.local',
  resolver: 'kube-dns.kube-system.svc.cluster.local',
  podsSuffix: '-pods',
  privateRanges: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
} as const;
/** The headless Service nginx resolves to reach a service's pods. */
export const k8sPodsHost = (s: Pick<ServiceEntry, 'name'>, namespace: string = K8S_NGINX.namespace) =>
  `${s.name}${K8S_NGINX.podsSuffix}.${namespace}.svc.${K8S_NGINX.clusterDomain}`;

export interface RateLimit {
  /** Requests per second per client address and service. */
  rate: number;
  /** Requests beyond the rate served at once before 429s start. */
  burst: number;
}
export const DEFAULT_RATE_LIMIT: RateLimit = { rate: 1000, burst: 2000 };

export interface NginxServer {
  /** host:port */
  address: string;
  /** Re-resolve the name at run time (nginx >= 1.27.3; compose). */
  resolve?: boolean;
}

export interface NginxView {
  header: string;
  user?: string;
  workerProcesses: string;
  pidFile: string;
  errorLog: string;
  accessLog: string;
  tempDir?: string;
  resolver?: string;
  /** Why the resolver is there (a comment in the rendering). */
  resolverNote?: string;
  /** Proxies in front of nginx whose X-Forwarded-For gives the client's address. */
  realIpFrom?: string[];
  listen: string;
  tlsListen?: string;
  tlsCertificate: string;
  tlsCertificateKey: string;
  services: ServiceView[];
  /** The worker whose Bull-board answers at /admin/queues (the first worker listed). */
  queues: ServiceView[];
}

interface ServiceView extends ServiceEntry, RateLimit {
  id: string;
  /** The service's identifier-bearing routes: an nginx regex of the path and the template logged for it. */
  templates: { pattern: string; template: string }[];
  prediction: boolean;
  worker: boolean;
  servers: NginxServer[];
}

function serviceViews(
  services: ServiceEntry[],
  servers: (s: ServiceEntry) => NginxServer[],
  limit: RateLimit,
  overrides: Record<string, RateLimit> = {},
): ServiceView[] {
  return services.map((s) => ({
    ...s,
    ...(overrides[s.name] ?? limit),
    id: s.name.replace(/-/g, '_'),
    templates: s.routes.map((route) => ({
      pattern: `~^/${s.name}${route.replace(/\/:[a-z_]+/g, '/[^/]+').replace(/\./g, '\\.')}$`,
      template: `/${s.name}${route}`,
    })),
    prediction: s.kind === 'prediction',
    worker: s.kind === 'worker',
    servers: servers(s),
  }));
}

export function renderNginx(view: NginxView, template = readFileSync(NGINX_TEMPLATE, 'utf8')): string {
  // Plain text, not HTML: no escaping.
  return Mustache.render(template, view, {}, { escape: (value: unknown) => String(value) });
}

/**
 * Compose's config (committed as infra/nginx/compose.conf, written by @predict/deploy-checks): every listed
 * service by its compose service name, re-resolved through Docker's DNS so `docker compose up --scale
 * <service>=N` needs no config edit; logs to the container's stdout/stderr; TLS on 8443 once certificates are
 * mounted at /etc/nginx/certs.
 */
export function composeNginxView(services: ServiceEntry[], limit = DEFAULT_RATE_LIMIT): NginxView {
  const views = serviceViews(services, (s) => [{ address: `${s.name}:${s.port}`, resolve: true }], limit);
  return {
    header: 'GENERATED from infra/nginx/nginx.conf.mustache and infra/services.json by `pnpm --filter @predict/deploy-checks generate`; do not edit. nginx >= 1.27.3 (compose pins 1.30).',
    user: 'nginx',
    workerProcesses: 'auto',
    pidFile: '/tmp/nginx.pid',
    errorLog: 'stderr',
    accessLog: '/dev/stdout',
    resolver: COMPOSE_NGINX.resolver,
    resolverNote: "Docker's DNS: `server ... resolve` re-resolves service names, so `docker compose up --scale` adds replicas.",
    listen: String(COMPOSE_NGINX.httpPort),
    tlsListen: String(COMPOSE_NGINX.tlsPort),
    tlsCertificate: `${COMPOSE_NGINX.certDir}/tls.crt`,
    tlsCertificateKey: `${COMPOSE_NGINX.certDir}/tls.key`,
    services: views,
    queues: views.filter((v) => v.worker).slice(0, 1),
  };
}

/**
 * The cluster's config (committed as infra/k8s/base/nginx.conf, mounted from the nginx-config ConfigMap): the
 * same routes, retries, limits and logs as compose's, upstreams by Kubernetes Service DNS names (K8S_NGINX).
 * TLS ends at the Ingress in front, so no TLS server block.
 */
export function k8sNginxView(services: ServiceEntry[], limit = DEFAULT_RATE_LIMIT, namespace: string = K8S_NGINX.namespace): NginxView {
  const views = serviceViews(services, (s) => [{ address: `${k8sPodsHost(s, namespace)}:${s.port}`, resolve: true }], limit);
  return {
    header: 'GENERATED from infra/nginx/nginx.conf.mustache and infra/services.json by `pnpm --filter @predict/deploy-checks generate`; do not edit. nginx >= 1.27.3 (the Deployment pins 1.30).',
    workerProcesses: 'auto',
    pidFile: '/tmp/nginx.pid',
    errorLog: 'stderr',
    accessLog: '/dev/stdout',
    tempDir: '/tmp',
    resolver: K8S_NGINX.resolver,
    resolverNote: `The cluster's DNS (kube-dns): \`server ... resolve\` re-resolves the headless Services, so pods the HPA adds receive traffic.`,
    realIpFrom: [...K8S_NGINX.privateRanges],
    listen: String(K8S_NGINX.httpPort),
    tlsCertificate: '',
    tlsCertificateKey: '',
    services: views,
    queues: views.filter((v) => v.worker).slice(0, 1),
  };
}

export interface LocalNginxOptions {
  /** The services that run, each with its replicas' loopback ports. */
  replicas: { service: ServiceEntry; ports: number[] }[];
  /** Entry port (loopback). */
  port: number;
  /** HTTPS entry port, when certificates are given. */
  tls?: { port: number; certificate: string; key: string };
  /** Where pid, temp files and logs go. */
  scratchDir: string;
  rateLimit?: RateLimit;
  /** Per service name, in place of `rateLimit`. */
  rateLimits?: Record<string, RateLimit>;
  /** Set when nginx starts as root: the user its workers run as (Debian: nobody has group nogroup). */
  user?: string;
  host?: string;
}

/** The local stack's config: static replica ports on loopback (Debian's nginx 1.22 has no `resolve`). */
export function localNginxView(options: LocalNginxOptions): NginxView {
  const host = options.host ?? '127.0.0.1';
  const ports = new Map(options.replicas.map((r) => [r.service.name, r.ports]));
  const views = serviceViews(
    options.replicas.map((r) => r.service),
    (s) => (ports.get(s.name) ?? []).map((port) => ({ address: `${host}:${port}` })),
    options.rateLimit ?? DEFAULT_RATE_LIMIT,
    options.rateLimits,
  );
  const dir = options.scratchDir;
  return {
    header: 'GENERATED by `pnpm stack` from infra/nginx/nginx.conf.mustache; do not edit.',
    ...(options.user ? { user: options.user } : {}),
    workerProcesses: '1',
    pidFile: path.join(dir, 'nginx.pid'),
    errorLog: path.join(dir, 'nginx-error.log'),
    accessLog: path.join(dir, 'nginx-access.log'),
    tempDir: dir,
    listen: `${host}:${options.port}`,
    ...(options.tls ? { tlsListen: `${host}:${options.tls.port}` } : {}),
    tlsCertificate: options.tls?.certificate ?? '',
    tlsCertificateKey: options.tls?.key ?? '',
    services: views,
    queues: views.filter((v) => v.worker).slice(0, 1),
  };
}
