/**
 * The real topology through real nginx: three flight-delay replicas, one of every other service present,
 * nginx in front (Debian's, unprivileged paths), on ports 7200-7299. Kills, restarts and load are bounded
 * in count and time; nothing asserts a duration.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { connectTestRedis, deleteKeys, eventually, testRedisUrl } from '@predict/serving/testing';
import { answered, exposedNames, metricNames, monitoringExpressions } from './monitoring-names';
import { Stack, type Replica } from './stack';
import { steadyLoad, type LoadResult } from './steady-load';
import { findCommand } from './system-tools';

const ENTRY = 7200;
const TLS_PORT = 7299;
const PREDICT = '/flight-delay/v1/predict';
const FLIGHT = JSON.stringify({ origin: 'ORD', destination: 'LAX', scheduled_departure: '2001-06-15T17:30' });
/** taxi-eta's rate limit is tiny here, so the 429 test needs few requests; flight-delay's carries the load. */
const TAXI_LIMIT = { rate: 2, burst: 5 };
/** The services' and the worker's queue prefix: this run's own keys in the shared Redis, deleted after. */
const JOBS_PREFIX = `{edge-test-${process.pid}}`;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function call(port: number, route: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer; tls?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: route, method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false as const, rejectUnauthorized: false };
    const req = (init.tls ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const json = (body: string | object) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** Predictions this replica has answered with 200 (its own counter: a new process starts at 0). */
const predictionsServed = async (replica: Replica) => answered((await call(replica.port, '/metrics')).body, '/v1/predict');

const noFailures = (result: LoadResult) => expect({ ok: result.ok > 0, failures: result.failures }).toEqual({ ok: true, failures: [] });

let stack: Stack;
let certDir: string;
/** The shared Redis the stack uses (connected first, so it fails saying what to start when none answers). */
let redis: Awaited<ReturnType<typeof connectTestRedis>> | undefined;

beforeAll(async () => {
  if (!findCommand('nginx')) throw new Error('nginx is not installed: apt-get install -y nginx-light (.ci/run installs it as root)');
  redis = await connectTestRedis(testRedisUrl());
  // A self-signed certificate where the TLS block reads it (a mounted certificate in production).
  certDir = mkdtempSync(path.join(os.tmpdir(), 'stack-tls-'));
  chmodSync(certDir, 0o755); // nginx's workers (nobody, when started as root) read it at each handshake
  const certificate = path.join(certDir, 'tls.crt');
  const key = path.join(certDir, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', certificate], { stdio: 'ignore' });
  chmodSync(key, 0o644);
  stack = await Stack.start({
    replicas: new Map([['flight-delay', 3]]),
    port: ENTRY,
    portBase: 7201,
    rateLimit: { rate: 100_000, burst: 100_000 },
    rateLimits: { 'taxi-eta': TAXI_LIMIT },
    redisUrl: testRedisUrl(),
    env: { ACCESS_LOG: 'false', LOG_LEVEL: 'warn', NODE_ENV: 'production', JOBS_PREFIX },
    streamLogs: false,
    tls: { port: TLS_PORT, certificate, key },
  });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  // After the stack has stopped (nothing writes under the prefix any more): this run's keys leave the shared Redis.
  if (redis) {
    try {
      await deleteKeys(redis, JOBS_PREFIX);
    } finally {
      redis.disconnect();
    }
  }
  if (stack) rmSync(stack.scratchDir, { recursive: true, force: true });
  if (certDir) rmSync(certDir, { recursive: true, force: true });
}, 120_000);

describe('through nginx', () => {
  it('every service that runs here answers through nginx, and the worker’s queues page is routed', async () => {
    const services = [...new Set(stack.replicas.map((r) => r.service))];
    expect(services.map((s) => s.name)).toEqual(expect.arrayContaining(['flight-delay', 'taxi-eta']));
    // A listed package may be absent from this checkout (another branch adds it); one present but unbuilt
    // means turbo did not build it before this task: packages/stack must list it as a devDependency.
    expect(stack.skipped.filter((s) => s.why === 'unbuilt').map((s) => s.reason)).toEqual([]);
    for (const s of services) {
      const ready = await call(ENTRY, `/${s.name}/health/ready`);
      expect({ service: s.name, status: ready.status }).toEqual({ service: s.name, status: 200 });
      if (s.kind === 'prediction') {
        const model = await call(ENTRY, `/${s.name}/v1/model`);
        expect({ service: s.name, status: model.status }).toEqual({ service: s.name, status: 200 });
        expect(JSON.parse(model.body).name).toBe(s.name);
      }
    }
    const predicted = await call(ENTRY, PREDICT, json(FLIGHT));
    expect(predicted.status).toBe(200);
    expect(JSON.parse(predicted.body)).toMatchObject({ probability_delayed: expect.any(Number), model: { name: 'flight-delay' } });
    expect(predicted.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
    if (services.some((s) => s.kind === 'worker')) expect((await call(ENTRY, '/admin/queues')).status).toBeLessThan(400);
    // Metrics are scraped per replica, never through the balancer.
    expect((await call(ENTRY, '/flight-delay/metrics')).status).toBe(404);
  });

  it('passes the caller’s request id through, or makes one, and the service answers with the same id', async () => {
    const given = await call(ENTRY, PREDICT, { ...json({ origin: 'ORD' }), headers: { 'content-type': 'application/json', 'x-request-id': 'trace-abc.123' } });
    expect(given.status).toBe(400);
    expect(given.headers['x-request-id']).toBe('trace-abc.123');
    expect(JSON.parse(given.body).error.request_id).toBe('trace-abc.123');

    const made = await call(ENTRY, PREDICT, json({ origin: 'ORD' }));
    const id = made.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f]{32}$/); // nginx's $request_id
    expect(JSON.parse(made.body).error.request_id).toBe(id); // the service received and used it

    // nginx's access log: one JSON line with the route template and the upstream, for that id.
    await eventually(() => readFileSync(stack.nginxAccessLog, 'utf8').includes(String(id)), 'the access log line', 30_000);
    const line = readFileSync(stack.nginxAccessLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['request_id'] === id);
    expect(line).toMatchObject({ route: PREDICT, status: 400, upstream: expect.stringMatching(/^127\.0\.0\.1:720\d$/), upstream_status: '400' });
  });

  it('logs route templates, never raw paths that may hold identifiers', async () => {
    await call(ENTRY, '/taxi-eta/v1/jobs/job-7f3a9c/results', { headers: { 'x-request-id': 'route-check-1' } });
    await call(ENTRY, '/flight-delay/patients/12345?name=x', { headers: { 'x-request-id': 'route-check-2' } });
    await eventually(() => readFileSync(stack.nginxAccessLog, 'utf8').includes('route-check-2'), 'the access log lines', 30_000);
    const log = readFileSync(stack.nginxAccessLog, 'utf8');
    expect(log).toContain('"route":"/taxi-eta/v1/jobs/:id/results"');
    expect(log).toContain('"route":"/flight-delay/*"');
    expect(log).not.toMatch(/job-7f3a9c|12345|name=x/);
  });

  it('gzips JSON for clients that accept it', async () => {
    const batch = { instances: Array.from({ length: 50 }, () => JSON.parse(FLIGHT) as object) };
    const answer = await call(ENTRY, '/flight-delay/v1/predict/batch', { ...json(batch), headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' } });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-encoding']).toBe('gzip');
  });

  it('refuses a body over the route’s limit with 413 in the platform’s error body; job submission has a larger limit', async () => {
    const big = Buffer.alloc(1_200_000, 'a'); // over flight-delay's 1m prediction limit
    const refused = await call(ENTRY, PREDICT, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'too-big-1' }, body: big });
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.body)).toEqual({ error: { code: 'payload_too_large', message: expect.any(String), request_id: 'too-big-1' } });

    // The same body to POST /v1/jobs (512m at nginx) reaches a replica, whatever that replica answers.
    const job = await call(ENTRY, '/flight-delay/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'x-request-id': 'job-body-1' }, body: big });
    expect(job.headers['x-request-id']).toBe('job-body-1');
    await eventually(() => readFileSync(stack.nginxAccessLog, 'utf8').includes('job-body-1'), 'the access log line', 30_000);
    const line = readFileSync(stack.nginxAccessLog, 'utf8').split('\n').filter((l) => l.includes('"job-body-1"'))[0]!;
    expect(JSON.parse(line)).toMatchObject({ route: '/flight-delay/v1/jobs', upstream: expect.stringMatching(/^127\.0\.0\.1:720\d/) });
  });

  it('serves HTTPS with a mounted certificate (HSTS there only) while plain HTTP works', async () => {
    const secure = await call(TLS_PORT, '/flight-delay/health/ready', { tls: true });
    expect(secure.status).toBe(200);
    expect(secure.headers['strict-transport-security']).toMatch(/max-age=/);
    expect((await call(ENTRY, '/flight-delay/health/ready')).headers['strict-transport-security']).toBeUndefined();
  });
});

describe('replicas behind nginx', () => {
  it('failover: SIGKILL one of three replicas under load → zero failed requests; restarted, it gets traffic again', async () => {
    const load = steadyLoad({ port: ENTRY, path: PREDICT, body: FLIGHT, concurrency: 8, intervalMs: 10, maxRequests: 500_000, maxMs: 400_000 });
    try {
      await load.after(300);
      const victim = stack.replica('flight-delay', 1);
      expect(await stack.signalReplica(victim, 'SIGKILL')).toBe(-1);
      await load.after(1000); // nginx notices (passive health) and routes around it
      // Requests that met the dead replica were answered by another: the access log lists both upstreams.
      const retried = readFileSync(stack.nginxAccessLog, 'utf8')
        .split('\n')
        .filter((l) => l.includes(`"upstream":"127.0.0.1:${victim.port}, `) && l.includes('"status":200'));
      expect(retried.length).toBeGreaterThan(0);
      await stack.startReplica(victim);
      await eventually(async () => (await predictionsServed(victim)) > 0, 'the restarted replica to receive predictions through nginx', 60_000);
      await load.after(200);
    } finally {
      noFailures(await load.stop());
    }
  }, 420_000);

  it('rolling restart: each replica in turn SIGTERMed (drains, exits 0) and restarted under load → zero failed requests', async () => {
    const load = steadyLoad({ port: ENTRY, path: PREDICT, body: FLIGHT, concurrency: 8, intervalMs: 10, maxRequests: 1_000_000, maxMs: 560_000 });
    try {
      await load.after(200);
      for (const replica of stack.replicas.filter((r) => r.service.name === 'flight-delay')) {
        expect({ replica: replica.label, exit: await stack.signalReplica(replica, 'SIGTERM') }).toEqual({ replica: replica.label, exit: 0 });
        await stack.startReplica(replica);
        await eventually(async () => (await predictionsServed(replica)) > 0, `${replica.label} to receive predictions again`, 60_000);
        await load.after(200);
      }
    } finally {
      noFailures(await load.stop());
    }
  }, 580_000);
});

describe('jobs through nginx', () => {
  it('a job submitted through nginx completes, every row exactly once, while its worker is restarted', async () => {
    const worker = stack.replicas.find((r) => r.service.kind === 'worker');
    if (!worker) throw new Error('no batch worker runs in this stack: services/batch-worker must be built (packages/stack lists it as a devDependency)');
    const rows = 200_000;
    const hours = ['06', '09', '12', '15', '18', '21'];
    const body = Array.from({ length: rows }, (_, i) =>
      JSON.stringify({ origin: 'ORD', destination: i % 2 ? 'LAX' : 'JFK', scheduled_departure: `2001-06-${String(1 + (i % 28)).padStart(2, '0')}T${hours[i % 6]}:30` }),
    ).join('\n');
    const submitted = await call(ENTRY, '/flight-delay/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    expect(submitted.status).toBe(202);
    const { job_id: id, status_url: statusUrl, results_url: resultsUrl } = JSON.parse(submitted.body) as { job_id: string; status_url: string; results_url: string };
    // nginx passes X-Forwarded-Prefix and the replica trusts it (loopback): the URLs handed back work through nginx.
    expect({ statusUrl, resultsUrl, location: submitted.headers.location }).toEqual({
      statusUrl: `/flight-delay/v1/jobs/${id}`,
      resultsUrl: `/flight-delay/v1/jobs/${id}/results`,
      location: `/flight-delay/v1/jobs/${id}`,
    });
    const status = async () => JSON.parse((await call(ENTRY, statusUrl)).body) as { state: string; progress: { rows_done: number } | null };
    // Restart the worker once the job is under way (or already done, on a fast machine): SIGTERM drains it
    // (the chunk in hand finishes, the job goes back to the queue), and the new process takes it up.
    await eventually(async () => {
      const s = await status();
      return s.state === 'completed' || (s.state === 'active' && (s.progress?.rows_done ?? 0) > 0);
    }, 'the job under way', 120_000);
    const atRestart = await status();
    process.stdout.write(`job ${id} at the worker's restart: ${atRestart.state}, ${atRestart.progress?.rows_done ?? 0} of ${rows} rows done\n`);
    expect({ worker: worker.label, exit: await stack.signalReplica(worker, 'SIGTERM') }).toEqual({ worker: worker.label, exit: 0 });
    await stack.startReplica(worker);
    await eventually(async () => (await status()).state === 'completed', 'the job completed after the restart', 300_000);
    const results = await call(ENTRY, resultsUrl);
    expect(results.status).toBe(200);
    const indexes = results.body
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { index: number }).index);
    expect(indexes).toHaveLength(rows);
    expect(new Set(indexes).size).toBe(rows);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
  }, 480_000);
});

describe('monitoring against live replicas', () => {
  /** prom-client's own default gauges end in _total, which promtool's lint flags; everything of ours must pass. */
  const PROM_CLIENT_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

  it('promtool check metrics passes on every running service’s /metrics, and every metric a rule or panel names exists there', async () => {
    const promtool = findCommand('promtool');
    if (!promtool) throw new Error("promtool is not installed: apt-get install -y prometheus (Debian's package)");
    const exposed = new Set<string>(['up']); // made by Prometheus itself
    const seen = new Set<string>();
    for (const replica of stack.replicas) {
      if (seen.has(replica.service.name)) continue;
      seen.add(replica.service.name);
      const text = (await call(replica.port, '/metrics')).body;
      const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      const problems = `${lint.stdout}${lint.stderr}`.split('\n').filter((l) => l.trim() && !PROM_CLIENT_DEFAULTS.some((d) => l.startsWith(`${d} `)));
      expect({ service: replica.service.name, problems }).toEqual({ service: replica.service.name, problems: [] });
      expect([0, 3]).toContain(lint.status); // 3: lint findings (only prom-client's, above); 1 would be a parse error
      for (const name of exposedNames(text)) exposed.add(name);
    }
    // The worker's rules and panels are checked where a worker runs (its package may not be on this branch).
    const kinds = new Set(stack.replicas.map((r) => r.service.kind));
    const expressions = monitoringExpressions();
    const unchecked = expressions.filter((e) => !kinds.has(e.kind));
    if (unchecked.length) process.stdout.write(`WARNING: no ${[...new Set(unchecked.map((e) => e.kind))].join('/')} runs here: not checked: ${unchecked.map((e) => e.where).join(', ')}\n`);
    const missing = expressions
      .filter((e) => kinds.has(e.kind))
      .flatMap(({ where, expr }) => metricNames(expr).filter((m) => !exposed.has(m)).map((m) => `${where}: ${m}`));
    expect(missing).toEqual([]);
    expect(expressions.filter((e) => e.kind === 'prediction').length).toBeGreaterThan(10);
  });
});

describe('rate limit', () => {
  it('answers 429 past the burst with the platform’s JSON error body; health paths are exempt', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => call(ENTRY, '/taxi-eta/v1/model')));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
    const [first] = limited;
    expect(first!.headers['retry-after']).toBe('1');
    expect(first!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(first!.body)).toEqual({ error: { code: 'rate_limited', message: expect.any(String), request_id: first!.headers['x-request-id'] } });

    const health = await Promise.all(Array.from({ length: 30 }, () => call(ENTRY, '/taxi-eta/health/ready')));
    expect(health.map((h) => h.status)).toEqual(Array(30).fill(200));
  });
});
