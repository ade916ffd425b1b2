import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const flight = JSON.stringify({ origin: 'ORD', destination: 'LAX', scheduled_departure: '2001-06-15T17:30' });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function call(port: number, method: string, route: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: route, agent: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts the real service process (src/main.ts through tsx) and waits until it is ready. */
async function startService(env: Record<string, string>): Promise<{ child: ChildProcess; port: number; logs: string[] }> {
  const port = await freePort();
  const logs: string[] = [];
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => logs.push(...c.toString().split('\n').filter(Boolean)));
  child.stderr?.on('data', (c: Buffer) => logs.push(...c.toString().split('\n').filter(Boolean)));
  for (let i = 0; i < 300; i++) {
    const ready = await call(port, 'GET', '/health/ready').catch(() => undefined);
    if (ready?.status === 200) return { child, port, logs };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`service did not become ready:\n${logs.join('\n')}`);
}

describe('flight-delay process lifecycle', () => {
  it('on SIGTERM goes unready, drains in-flight requests, releases the model and exits 0', async () => {
    // Rows wait up to 1.5 s in the batcher for company, so the 20 requests are surely in flight when SIGTERM
    // lands: we send it once /metrics shows all 20 queued.
    const { child, port, logs } = await startService({ MAX_BATCH_DELAY_MS: '1500', MAX_BATCH_SIZE: '64' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const inFlight = Array.from({ length: 20 }, () => call(port, 'POST', '/v1/predict', flight));
    for (let queued = 0; queued < 20; ) {
      const metrics = await call(port, 'GET', '/metrics');
      queued = Number(/model_queue_depth\{[^}]*\} (\d+)/.exec(metrics.body)?.[1] ?? 0);
    }
    child.kill('SIGTERM');
    const responses = await Promise.all(inFlight);
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(JSON.parse(responses[0]!.body).probability_delayed).toBeGreaterThan(0);
    expect(await exited).toBe(0);
    await expect(call(port, 'GET', '/health/live')).rejects.toThrow(/ECONNREFUSED/);
    const lines = logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message: string; step?: string; service?: string });
    const messages = lines.map((l) => (l.step ? `${l.message}: ${l.step}` : l.message));
    expect(messages).toEqual(
      expect.arrayContaining([
        'shutting down',
        'shutdown step done: readiness 503',
        'shutdown step done: stop accepting HTTP and drain in-flight requests',
        'shutdown step done: release model sessions',
        'shutdown complete',
      ]),
    );
    expect(lines.every((l) => l.service === 'flight-delay' || l.service === undefined)).toBe(true);
  });

  it('exits 1 naming the variable when the configuration is bad', async () => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: 'not-a-port', API_KEYS_ADMIN: 'hunter2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/PORT: must be a whole number/);
    expect(stderr).toMatch(/API_KEYS_ADMIN: every key must be at least 16 characters/);
    expect(stderr).not.toContain('hunter2');
  });

  it('says loudly at start-up that auth is off when no keys are set', async () => {
    const { child, logs } = await startService({});
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    expect(logs.some((l) => l.includes('AUTH DISABLED') && l.includes('"level":"warn"'))).toBe(true);
  });
});
