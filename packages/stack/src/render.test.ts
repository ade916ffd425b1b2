import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { metricNames, monitoringExpressions } from './monitoring-names';
import { COMPOSE_NGINX_CONF, composeNginxView, K8S_NGINX, K8S_NGINX_CONF, localNginxView, renderNginx } from './nginx-config';
import { parseReplicas, replicaPorts } from './ports';
import { ALERT_RULES, COMPOSE_MONITORING_MOUNT, COMPOSE_PROMETHEUS_YML, REPO_MONITORING, renderLocalPrometheus } from './prometheus-config';
import { loadServices, nodeOptionsFor, presence, type ServiceEntry } from './services';
import { findCommand, isRoot } from './system-tools';

const services = loadServices();
const nginx = findCommand('nginx');
const promtool = findCommand('promtool');
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'stack-render-'));
  chmodSync(scratch, 0o755);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** nginx -t on a config written to the scratch directory (its pid and temp paths live there too). */
function nginxTest(name: string, text: string) {
  if (!nginx) throw new Error('nginx is not installed: apt-get install -y nginx-light (.ci/run installs it as root)');
  const file = path.join(scratch, name);
  writeFileSync(file, text);
  return run(nginx, ['-t', '-p', scratch, '-c', file]);
}

describe('infra/services.json', () => {
  it('lists every deployable with valid fields; a listed package that is absent here is skipped with its reason', () => {
    expect(services.map((s) => s.name)).toEqual(expect.arrayContaining(['flight-delay', 'taxi-eta']));
    const ghost: ServiceEntry = { ...services[0]!, name: 'ghost', package: '@predict/ghost', dir: 'services/ghost' };
    expect(presence(ghost)).toEqual({ present: false, why: 'absent', reason: expect.stringMatching(/services\/ghost does not exist/) });
    expect(presence(services.find((s) => s.name === 'flight-delay')!)).toEqual({ present: true });
  });

  it('every listed package in this checkout is a devDependency here, so turbo builds it before test:system', () => {
    const own = JSON.parse(readFileSync(path.join(__dirname, '../package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const inCheckout = services.filter((s) => presence(s).present || (presence(s) as { why?: string }).why === 'unbuilt');
    expect(inCheckout.filter((s) => !own.devDependencies[s.package]).map((s) => s.package)).toEqual([]);
  });

  it('refuses a bad entry, naming it', () => {
    const file = path.join(scratch, 'bad-services.json');
    writeFileSync(file, JSON.stringify({ services: [{ ...services[0], name: 'Bad Name' }, { ...services[0], bodyLimit: 'lots' }] }));
    expect(() => loadServices(file)).toThrow(/services\.0\.name: lowercase[\s\S]*services\.1\.bodyLimit: an nginx size/);
    writeFileSync(file, JSON.stringify({ services: [{ ...services[0], nodeOptions: '--max-old-space-size=512; rm -rf /' }] }));
    expect(() => loadServices(file)).toThrow(/services\.0\.nodeOptions: flags such as/);
  });

  it('nodeOptions: the service’s flags first, then the caller’s NODE_OPTIONS (so the caller’s win); none when neither', () => {
    const vehicle = services.find((s) => s.name === 'vehicle-classifier')!;
    expect(vehicle.nodeOptions).toBe('--max-semi-space-size=2');
    expect(nodeOptionsFor(vehicle, undefined)).toBe('--max-semi-space-size=2');
    expect(nodeOptionsFor(vehicle, ' --max-semi-space-size=8 ')).toBe('--max-semi-space-size=2 --max-semi-space-size=8');
    const plain = services.find((s) => s.name === 'flight-delay')!;
    expect(nodeOptionsFor(plain, undefined)).toBeUndefined();
    expect(nodeOptionsFor(plain, '')).toBeUndefined();
    expect(nodeOptionsFor(plain, '--enable-source-maps')).toBe('--enable-source-maps');
  });
});

describe('replica ports and --replicas', () => {
  const two = services.filter((s) => s.kind === 'prediction').slice(0, 2);
  it('puts replicas on each service’s own port + 100, or consecutively from a base', () => {
    const counts = new Map([[two[0]!.name, 3]]);
    expect([...replicaPorts(two, counts).values()]).toEqual([[two[0]!.port, two[0]!.port + 100, two[0]!.port + 200], [two[1]!.port]]);
    expect([...replicaPorts(two, counts, 7201).values()]).toEqual([[7201, 7202, 7203], [7204]]);
  });
  it('parses name=count lists and names what is wrong', () => {
    expect(parseReplicas('flight-delay=3, taxi-eta=0', services)).toEqual(new Map([['flight-delay', 3], ['taxi-eta', 0]]));
    expect(() => parseReplicas('flight=2', services)).toThrow(/'flight' is not in infra\/services.json/);
    expect(() => parseReplicas('flight-delay', services)).toThrow(/not name=count/);
  });
});

describe('nginx: one template, the local and compose renderings', () => {
  it('the compose rendering resolves every listed service by name through Docker’s DNS', () => {
    const text = renderNginx(composeNginxView(services));
    expect(text).toMatch(/resolver 127\.0\.0\.11 /);
    for (const s of services) {
      expect(text).toContain(`server ${s.name}:${s.port} max_fails=2 fail_timeout=5s resolve;`);
      expect(text).toContain(`zone up_${s.name.replace(/-/g, '_')} `);
    }
  });

  it('nginx -t accepts the local rendering (every listed service, TLS on)', () => {
    const replicas = services.map((service, i) => ({ service, ports: [7201 + 2 * i, 7202 + 2 * i] }));
    const text = renderNginx(
      localNginxView({
        replicas,
        port: 7200,
        scratchDir: scratch,
        tls: { port: 7299, certificate: path.join(scratch, 'tls.crt'), key: path.join(scratch, 'tls.key') },
        ...(isRoot() ? { user: 'nobody nogroup' } : {}),
      }),
    );
    expect(text).toContain('server 127.0.0.1:7201 max_fails=2 fail_timeout=5s;');
    expect(text).not.toContain('resolve;');
    const result = nginxTest('local.conf', text);
    expect(result.output).toMatch(/test is successful/);
    expect(result.status).toBe(0);
  });

  it('nginx -t (1.22 here) accepts the compose rendering once what only 1.27.3+ and Docker provide is swapped out', () => {
    // 1.22 has no `server … resolve`, cannot resolve compose's service names, Debian has no user nginx, and
    // this test's stdout may be a socket nginx cannot open as /dev/stdout: those, and only those, are replaced;
    // every other line is checked as compose runs it.
    const text = readFileSync(COMPOSE_NGINX_CONF, 'utf8')
      .replace(/ resolve;/g, ';')
      .replace(/server ([a-z0-9-]+):(\d+)/g, 'server 127.0.0.1:$2')
      .replace(/^user nginx;$/m, isRoot() ? 'user nobody nogroup;' : '')
      .replace('pid /tmp/nginx.pid;', `pid ${scratch}/compose.pid;`)
      .replace('access_log /dev/stdout json;', `access_log ${scratch}/compose-access.log json;`);
    const result = nginxTest('compose-1.22.conf', text);
    expect(result.output).toMatch(/test is successful/);
    expect(result.status).toBe(0);
  });
});

describe('nginx: the Kubernetes rendering', () => {
  it('nginx -t (1.22 here) accepts it once what only 1.27.3+ and the cluster provide is swapped out', () => {
    // As for compose: `resolve`, the cluster's names (the resolver's and the headless Services') and /dev/stdout
    // are replaced; the real-ip, route, retry and limit lines are checked as the cluster runs them.
    const text = readFileSync(K8S_NGINX_CONF, 'utf8')
      .replace(/ resolve;/g, ';')
      .replace(/server [a-z0-9-]+\.[a-z0-9.-]+:(\d+)/g, 'server 127.0.0.1:$1')
      .replace(`resolver ${K8S_NGINX.resolver} `, 'resolver 127.0.0.1 ')
      .replace('pid /tmp/nginx.pid;', `pid ${scratch}/k8s.pid;`)
      .replace(/\/tmp\/(client_body|proxy|fastcgi|uwsgi|scgi);/g, `${scratch}/k8s-$1;`)
      .replace('access_log /dev/stdout json;', `access_log ${scratch}/k8s-access.log json;`);
    expect(text).toContain('set_real_ip_from 10.0.0.0/8;');
    expect(text).not.toMatch(/^user /m);
    const result = nginxTest('k8s-1.22.conf', text);
    expect(result.output).toMatch(/test is successful/);
    expect(result.status).toBe(0);
  });
});

describe('monitoring', () => {
  const needPromtool = () => {
    if (!promtool) throw new Error("promtool is not installed: apt-get install -y prometheus (Debian's package; .ci/run installs it as root)");
    return promtool;
  };

  it('promtool accepts compose’s Prometheus config with these rules, and the local stack’s', () => {
    // Compose mounts infra/monitoring at /etc/predict-monitoring: check its config with the repository's rules.
    const compose = path.join(scratch, 'prometheus-compose.yml');
    writeFileSync(compose, readFileSync(COMPOSE_PROMETHEUS_YML, 'utf8').split(COMPOSE_MONITORING_MOUNT).join(REPO_MONITORING));
    const local = path.join(scratch, 'prometheus-local.yml');
    writeFileSync(local, renderLocalPrometheus(services.map((service, i) => ({ service, ports: [7201 + i] }))));
    for (const file of [compose, local]) {
      const result = run(needPromtool(), ['check', 'config', file]);
      expect(result.output).toMatch(/SUCCESS/);
      expect(result.status).toBe(0);
    }
  });

  it('promtool accepts the alert rules, which cover the issue’s list', () => {
    const result = run(needPromtool(), ['check', 'rules', ALERT_RULES]);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.status).toBe(0);
    const rules = monitoringExpressions().filter((e) => e.where.startsWith('alert'));
    const names = new Set(rules.flatMap((r) => metricNames(r.expr)));
    for (const metric of ['http_requests_total', 'http_request_duration_seconds_bucket', 'model_queue_depth', 'model_info', 'prediction_log_dropped_total']) {
      expect(names).toContain(metric);
    }
  });

  it('reads metric names out of PromQL', () => {
    expect(metricNames('sum by (job, le) (rate(a_bucket{route!~"/health.*"}[5m])) / on (job) group_left b unless c > 0.5')).toEqual(['a_bucket', 'b', 'c']);
  });
});
