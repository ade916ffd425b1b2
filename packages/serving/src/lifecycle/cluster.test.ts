import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { eventually } from '../testing/eventually';

// Real processes: the fixture service (src/testing/linear-service-main.ts through tsx) with WORKERS=2, a
// primary and two workers sharing one port. Waits are polling deadlines, never timing assertions.
const MAIN = path.resolve(__dirname, '../testing/linear-service-main.ts');
const PACKAGE_ROOT = path.resolve(__dirname, '../..');

/** A free port in 7300-7399 (the range these tests may use). */
async function freePort(): Promise<number> {
  for (let port = 7300 + Math.floor(Math.random() * 100), tries = 0; tries < 100; tries++, port = 7300 + ((port - 7300 + 1) % 100)) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer().once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 7300-7399');
}

function call(port: number, method: string, route: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: route, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Running {
  child: ChildProcess;
  port: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>, port: number): Running {
  const lines: Array<Record<string, unknown>> = [];
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ACCESS_LOG: 'false', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ message: line });
      }
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, port, lines, exited };
}

const seriesValue = (text: string, series: RegExp) => Number(text.split('\n').find((l) => series.test(l))?.split(' ').pop());

describe('WORKERS=2 (node:cluster)', () => {
  let running: Running | undefined;
  afterEach(() => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    running = undefined;
  });

  it('serves one port from two processes, sums /metrics over both, and drains both on SIGTERM', async () => {
    // Rows wait up to 1.5 s in the batcher for company, so a request is surely in flight at SIGTERM.
    const svc = (running = start({ WORKERS: '2', SHUTDOWN_GRACE_MS: '0', MAX_BATCH_DELAY_MS: '1500', MAX_BATCH_SIZE: '64' }, await freePort()));
    await eventually(() => svc.lines.some((l) => l['message'] === 'all workers ready'), 'both workers ready', 120_000);
    const pids = svc.lines.filter((l) => l['message'] === 'worker started').map((l) => l['pid']);
    expect(new Set(pids).size).toBe(2);

    // Connections go round-robin to the workers; whichever answers /metrics reports all 12 predictions.
    const body = JSON.stringify({ a: 1, b: 2, c: 4 });
    const answers = await Promise.all(Array.from({ length: 12 }, () => call(svc.port, 'POST', '/v1/predict', body)));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    const predictSeries = /^http_requests_total\{route="\/v1\/predict",method="POST",status="200"/;
    for (let scrape = 0; scrape < 4; scrape++) {
      const metrics = await call(svc.port, 'GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(seriesValue(metrics.body, predictSeries)).toBe(12);
      // One serving version, not one per process.
      expect(seriesValue(metrics.body, /^model_info\{/)).toBe(1);
    }

    const inFlight = call(svc.port, 'POST', '/v1/predict', body);
    await eventually(async () => seriesValue((await call(svc.port, 'GET', '/metrics')).body, /^model_queue_depth\{/) === 1, 'a queued row');
    svc.child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).y).toBeCloseTo(0.5, 5);
    expect(await svc.exited).toBe(0);
    const completed = svc.lines.filter((l) => l['message'] === 'shutdown complete').map((l) => l['worker']);
    expect(completed.sort()).toEqual([1, 2]);
    expect(svc.lines.filter((l) => l['message'] === 'worker stopped').map((l) => l['code'])).toEqual([0, 0]);
  }, 180_000);

  it('exits 1 instead of restarting forever when workers die before they serve (a broken model directory)', async () => {
    const svc = (running = start({ WORKERS: '2', MODEL_DIR: path.join(PACKAGE_ROOT, 'no-such-model-dir') }, await freePort()));
    expect(await svc.exited).toBe(1);
    expect(svc.lines.some((l) => l['message'] === 'worker exited before it served; stopping')).toBe(true);
  }, 180_000);
});
