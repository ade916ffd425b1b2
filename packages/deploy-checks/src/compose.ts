import { envPrefix, SHUTDOWN, SIZING, type Deployable } from './registry';
import { GENERATED, yamlFile } from './yaml-file';

/** One variable of .env.example: its name, the value given there, and what it is. */
export interface EnvVar {
  name: string;
  example: string;
  doc: string;
}

const REDIS_PORT = 6379;
/** The readiness probe every image and compose service runs (no curl in the image: Node's fetch). */
export const readinessCommand = (port: number | string) => [
  'CMD',
  'node',
  '-e',
  `fetch('http://127.0.0.1:${port}/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
];

/** Every variable docker-compose.yml reads, for .env.example (a test checks the two agree). */
export function composeVariables(services: readonly Deployable[]): EnvVar[] {
  return [
    { name: 'REDIS_PASSWORD', example: 'change-me-to-a-long-random-string', doc: 'Required. Redis password (URL-safe characters: it is put in REDIS_URL).' },
    { name: 'API_KEYS_PREDICT', example: '', doc: 'Comma-separated keys (>= 16 chars, optionally id:key) with the predict scope. Empty: auth disabled.' },
    { name: 'API_KEYS_ADMIN', example: '', doc: 'Comma-separated keys with predict and admin scopes (model reload, /admin/queues).' },
    { name: 'LOG_LEVEL', example: 'info', doc: 'winston level of every service.' },
    { name: 'JOBS_PREFIX', example: '', doc: 'BullMQ key prefix of the job queues, the same for every service and the worker. Empty: {predict}.' },
    { name: 'PREDICTION_LOG', example: 'off', doc: 'on: every prediction is appended to a Redis stream per service.' },
    { name: 'IMAGE_REGISTRY', example: 'predict', doc: 'Image name prefix: <IMAGE_REGISTRY>/<service>:<IMAGE_TAG>.' },
    { name: 'IMAGE_TAG', example: 'latest', doc: 'Image tag built and run.' },
    { name: 'HTTP_PORT', example: '8080', doc: "Host port of nginx, the only published entry point." },
    { name: 'HTTPS_PORT', example: '8443', doc: 'Host port of nginx over TLS: it answers once TLS_CERT_DIR holds tls.crt and tls.key (read at each handshake; plain HTTP works without them).' },
    { name: 'TLS_CERT_DIR', example: './infra/nginx/certs', doc: 'Host directory mounted read-only at /etc/nginx/certs: tls.crt (with its chain) and tls.key. Never commit them.' },
    { name: 'PROMETHEUS_PORT', example: '9090', doc: 'Host port of Prometheus (profile monitoring).' },
    { name: 'GRAFANA_PORT', example: '3000', doc: 'Host port of Grafana (profile monitoring).' },
    { name: 'GRAFANA_ADMIN_PASSWORD', example: 'change-me-too', doc: 'Required with the monitoring profile. Grafana admin password.' },
    ...[...new Set(services.flatMap((s) => s.secrets))].map((name) => ({
      name,
      example: 'change-me-to-a-long-random-string',
      doc: `Required by ${services.filter((s) => s.secrets.includes(name)).map((s) => s.name).join(', ')} (a secret: set a long random value; never commit it).`,
    })),
    ...services.flatMap((s) => [
      { name: `${envPrefix(s)}_REPLICAS`, example: String(SIZING[s.kind].replicas), doc: `Containers of ${s.name}.` },
      ...(s.kind === 'prediction'
        ? [{ name: `${envPrefix(s)}_WORKERS`, example: '1', doc: `Processes per ${s.name} container (node:cluster, one port); raise with its CPU limit.` }]
        : [
            { name: `${envPrefix(s)}_QUEUES`, example: '', doc: `${s.name}: WORKER_QUEUES, the comma-separated queues its containers work on. Empty: every queue it knows.` },
            { name: `${envPrefix(s)}_CONCURRENCY`, example: '1', doc: `${s.name}: WORKER_CONCURRENCY, jobs per queue at once in each container.` },
          ]),
    ]),
  ];
}

const ref = (v: EnvVar | string, fallback?: string) => {
  const name = typeof v === 'string' ? v : v.name;
  return fallback === undefined ? `\${${name}}` : `\${${name}:-${fallback}}`;
};

function deployable(s: Deployable, services: readonly Deployable[]): Record<string, unknown> {
  const size = SIZING[s.kind];
  const prefix = envPrefix(s);
  const environment: Record<string, string> = {
    NODE_ENV: 'production',
    PORT: String(s.port),
    LOG_LEVEL: ref('LOG_LEVEL', 'info'),
    API_KEYS_PREDICT: ref('API_KEYS_PREDICT', ''),
    API_KEYS_ADMIN: ref('API_KEYS_ADMIN', ''),
    // nginx and Prometheus reach the services from Docker's private network addresses.
    TRUST_PROXY: 'uniquelocal',
    REDIS_URL: `redis://:${ref('REDIS_PASSWORD')}@redis:${REDIS_PORT}/0`,
    SHUTDOWN_GRACE_MS: String(SHUTDOWN.graceMs),
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN.timeoutMs),
    // The services enqueue and the worker consumes under one prefix.
    JOBS_PREFIX: ref('JOBS_PREFIX', ''),
  };
  const dependsOn: Record<string, unknown> = { redis: { condition: 'service_healthy' } };
  for (const name of s.secrets) environment[name] = `\${${name}:?set ${name} in .env (see .env.example)}`;
  // The service's own Node/V8 flags (infra/services.json nodeOptions).
  if (s.nodeOptions !== undefined) environment['NODE_OPTIONS'] = s.nodeOptions;
  if (s.kind === 'prediction') {
    environment['WORKERS'] = ref(`${prefix}_WORKERS`, '1');
    environment['MODEL_DIR'] = `/models/${s.name}`;
    environment['PREDICTION_LOG'] = ref('PREDICTION_LOG', 'off');
  } else {
    environment['WORKER_QUEUES'] = ref(`${prefix}_QUEUES`, '');
    environment['WORKER_CONCURRENCY'] = ref(`${prefix}_CONCURRENCY`, '1');
    // A running job hands back at its next chunk within the stop grace.
    environment['WORKER_DRAIN_TIMEOUT_MS'] = String(SHUTDOWN.timeoutMs);
    // Each queue's model directory is its service's MODEL_DIR (/models/<service>): promotions reach the worker.
    environment['WORKER_MODEL_ROOT'] = '/models';
    // A healthy service has seeded its model directory on the volume (its entrypoint runs before it serves).
    for (const other of services) if (other.kind === 'prediction') dependsOn[other.name] = { condition: 'service_healthy' };
  }
  return {
    image: `${ref('IMAGE_REGISTRY', 'predict')}/${s.name}:${ref('IMAGE_TAG', 'latest')}`,
    build: { context: '.', dockerfile: 'infra/docker/Dockerfile', args: { SERVICE_PACKAGE: s.package, SERVICE_PORT: String(s.port) } },
    environment,
    expose: [String(s.port)],
    volumes: ['models:/models'],
    networks: ['internal'],
    depends_on: dependsOn,
    restart: 'unless-stopped',
    stop_grace_period: `${SHUTDOWN.stopGraceSeconds}s`,
    healthcheck: { test: readinessCommand(s.port), interval: '10s', timeout: '3s', retries: 3, start_period: '60s' },
    deploy: {
      replicas: ref(`${prefix}_REPLICAS`, String(size.replicas)),
      resources: { limits: { cpus: size.cpus, memory: size.memory }, reservations: { cpus: '0.25', memory: '256m' } },
    },
  };
}

/** docker-compose.yml as an object. */
export function composeModel(services: readonly Deployable[]): Record<string, unknown> {
  const limits = (cpus: string, memory: string) => ({ resources: { limits: { cpus, memory } } });
  const model: Record<string, unknown> = {
    name: 'prediction-services',
    services: {
      redis: {
        image: 'redis:7.4-bookworm',
        // The password comes from the environment, not the command line of the file.
        command: ['sh', '-c', 'exec redis-server --appendonly yes --appendfsync everysec --requirepass "$$REDIS_PASSWORD"'],
        environment: { REDIS_PASSWORD: '${REDIS_PASSWORD:?set REDIS_PASSWORD in .env (see .env.example)}' },
        volumes: ['redis-data:/data'],
        networks: ['internal'],
        restart: 'unless-stopped',
        healthcheck: {
          test: ['CMD-SHELL', 'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG'],
          interval: '5s',
          timeout: '3s',
          retries: 10,
        },
        deploy: limits('1.0', '1g'),
      },
      ...Object.fromEntries(services.map((s) => [s.name, deployable(s, services)])),
      nginx: {
        image: 'nginx:1.30',
        // Rendered by the nginx template (infra/nginx): upstreams `server <service>:<port> resolve` through
        // Docker's DNS, so replicas added with --scale receive traffic without editing it.
        // Certificates are optional: without them HTTPS handshakes fail and HTTP serves (infra/nginx/README.md).
        volumes: ['./infra/nginx/compose.conf:/etc/nginx/nginx.conf:ro', `${ref('TLS_CERT_DIR', './infra/nginx/certs')}:/etc/nginx/certs:ro`],
        ports: [`${ref('HTTP_PORT', '8080')}:80`, `${ref('HTTPS_PORT', '8443')}:443`],
        networks: ['internal', 'edge'],
        depends_on: Object.fromEntries(services.map((s) => [s.name, { condition: 'service_healthy' }])),
        restart: 'unless-stopped',
        // nginx's own /health (not a service's): nginx itself serves (curl ships in the nginx image).
        healthcheck: { test: ['CMD', 'curl', '-fsS', '-o', '/dev/null', 'http://127.0.0.1:80/health'], interval: '10s', timeout: '3s', retries: 3, start_period: '10s' },
        deploy: limits('1.0', '256m'),
      },
      prometheus: {
        image: 'prom/prometheus:v3.5.0',
        profiles: ['monitoring'],
        command: ['--config.file=/etc/predict-monitoring/prometheus/compose.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=15d'],
        volumes: ['./infra/monitoring:/etc/predict-monitoring:ro', 'prometheus-data:/prometheus'],
        ports: [`${ref('PROMETHEUS_PORT', '9090')}:9090`],
        networks: ['internal', 'edge'],
        restart: 'unless-stopped',
        healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:9090/-/ready'], interval: '10s', timeout: '3s', retries: 3 },
        deploy: limits('0.5', '512m'),
      },
      grafana: {
        image: 'grafana/grafana:12.1.1',
        profiles: ['monitoring'],
        environment: {
          GF_SECURITY_ADMIN_PASSWORD: '${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD in .env for the monitoring profile}',
          GF_USERS_ALLOW_SIGN_UP: 'false',
        },
        volumes: [
          './infra/monitoring/grafana/provisioning:/etc/grafana/provisioning:ro',
          './infra/monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro',
          'grafana-data:/var/lib/grafana',
        ],
        ports: [`${ref('GRAFANA_PORT', '3000')}:3000`],
        networks: ['internal', 'edge'],
        depends_on: { prometheus: { condition: 'service_healthy' } },
        restart: 'unless-stopped',
        healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:3000/api/health'], interval: '10s', timeout: '3s', retries: 3 },
        deploy: limits('0.5', '512m'),
      },
    },
    networks: {
      // No route out of, or into, this network but through a container also on `edge`.
      internal: { internal: true },
      edge: {},
    },
    volumes: { models: {}, 'redis-data': {}, 'prometheus-data': {}, 'grafana-data': {} },
  };
  return model;
}

export function composeFile(services: readonly Deployable[]): string {
  const header = GENERATED(
    'The whole platform on one Docker host: `cp .env.example .env`, set the passwords, then\n' +
      '`docker compose up -d --build` (add `--profile monitoring` for Prometheus and Grafana). Scale with\n' +
      '<SERVICE>_REPLICAS in .env or `docker compose up -d --scale taxi-eta=4`; nginx (HTTP_PORT) is the only entry.',
  );
  return yamlFile(header, composeModel(services));
}

export function envExampleFile(services: readonly Deployable[]): string {
  const lines = [
    '# Every variable docker-compose.yml reads. Copy to .env and set the passwords; never commit .env.',
    '# Generated from infra/services.json by `pnpm --filter @predict/deploy-checks generate`.',
  ];
  for (const v of composeVariables(services)) lines.push('', `# ${v.doc}`, `${v.name}=${v.example}`);
  return `${lines.join('\n')}\n`;
}
