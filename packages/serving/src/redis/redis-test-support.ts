import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';

/**
 * Test support for code that talks to Redis: the shared Redis of the test run (REDIS_URL, which `.ci/run`
 * starts when none answers), unique key prefixes, and a private redis-server a test may stop and restart to
 * make an outage. Nothing here is used outside tests.
 */

/** REDIS_URL of the test run, or the local default. */
export const testRedisUrl = (): string => process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test uses: `test:<uuid>:`. */
export const uniqueKeyPrefix = (tag = 'test'): string => `${tag}:${randomUUID()}:`;

/**
 * A client of the shared test Redis; fails with a message saying what to do when none answers, instead of
 * letting a test time out on a connection that never comes.
 */
export async function connectTestRedis(url = testRedisUrl()): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(
      `these tests need a Redis at REDIS_URL=${url} and none answers (${(error as Error).message}). ` +
        `Start one: redis-server --port 6379 --save '' --appendonly no (Debian: apt-get install -y redis-server); .ci/run does this.`,
      { cause: error },
    );
  }
  return client;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deleteKeys(client: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** A loopback port free at the time of asking. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A private redis-server on a loopback port (no persistence), for outage tests: `stop()` kills it, `start()`
 * starts a new, empty one on the same port. The machine's shared Redis is never touched. Fails with the
 * install line when redis-server is missing.
 */
export class TestRedisServer {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[],
  ) {}

  static async start(extraArgs: readonly string[] = []): Promise<TestRedisServer> {
    const server = new TestRedisServer(await freePort(), extraArgs);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on `port` and resolves once it accepts connections (bounded). */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.process) throw new Error('redis-server is already running');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`redis-server did not start on port ${this.port} within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        this.process = undefined;
        child.kill('SIGKILL');
        reject(error);
      };
      child.once('error', (error: NodeJS.ErrnoException) =>
        fail(
          error.code === 'ENOENT'
            ? new Error('redis-server is not installed; these tests start their own. Install it: apt-get install -y redis-server')
            : error,
        ),
      );
      child.once('exit', (code) => fail(new Error(`redis-server exited (${code}) on port ${this.port}:\n${output}`)));
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve();
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, as with a hung or overloaded Redis. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  /** Thaws a paused server (SIGCONT). */
  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** Kills the server (SIGKILL by default: an abrupt outage) and resolves once it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
      // A paused server only acts on a catchable signal once it runs again.
      child.kill('SIGCONT');
    });
  }
}
