import { createLogger } from '../logging/logger';
import { eventually } from '../testing/eventually';
import { LogCapture } from '../testing/test-service';
import { createRedis, reconnectDelay, type RedisConnection } from './create-redis';
import { TestRedisServer } from './redis-test-support';

const PASSWORD = 'pw-Zx81-never-in-a-log';

function capturingLogger() {
  const logs = new LogCapture();
  return { logs, logger: createLogger({ service: 'test', level: 'info', stream: logs }) };
}

describe('createRedis', () => {
  let server: TestRedisServer;
  const open: RedisConnection[] = [];
  beforeAll(async () => {
    server = await TestRedisServer.start(['--requirepass', PASSWORD]);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.stop()));
    await server.start().catch(() => undefined); // a test that stopped it leaves it running again
  });
  afterAll(() => server.stop());

  const connect = (url: string, logger = capturingLogger().logger) => {
    const redis = createRedis({ REDIS_URL: url, REDIS_KEY_PREFIX: '{svc}:' }, logger, { role: 'prediction-log', service: 'test', maxReconnectDelayMs: 200 });
    open.push(redis);
    return redis;
  };

  it('takes password and db from the URL, names the connection, and builds prefixed keys', async () => {
    const { logs, logger } = capturingLogger();
    const redis = connect(`redis://:${PASSWORD}@127.0.0.1:${server.port}/3`, logger);
    expect(redis.ready).toBe(false); // lazyConnect: nothing happens before start()
    redis.start();
    await eventually(() => redis.ready, 'the connection to be ready');
    const info = (await redis.client.client('INFO')) as string;
    expect(info).toMatch(/\bdb=3\b/);
    expect(info).toMatch(/\bname=test:prediction-log\b/);
    expect(redis.key('predictions', 'flight-delay')).toBe('{svc}:predictions:flight-delay');
    expect(logs.lines).toContainEqual(expect.objectContaining({ message: 'redis connected', role: 'prediction-log' }));
    expect(JSON.stringify(logs.lines)).not.toContain(PASSWORD);
  });

  it('reads TLS from a rediss:// URL', () => {
    const redis = connect(`rediss://:${PASSWORD}@cache.example.invalid:6380/2`);
    expect(redis.client.options).toMatchObject({ tls: expect.anything(), host: 'cache.example.invalid', port: 6380, db: 2, password: PASSWORD });
    const plain = connect(`redis://127.0.0.1:${server.port}`);
    expect(plain.client.options.tls).toBeFalsy();
  });

  it('fails commands fast while Redis is away, keeps reconnecting, logs the outage once, and comes back', async () => {
    const { logs, logger } = capturingLogger();
    const redis = connect(`redis://:${PASSWORD}@127.0.0.1:${server.port}`, logger);
    redis.start();
    await eventually(() => redis.ready, 'the connection to be ready');
    let attempts = 0;
    redis.client.on('reconnecting', () => attempts++);

    await server.stop();
    await eventually(() => attempts >= 4, 'several reconnection attempts');
    expect(redis.ready).toBe(false);
    // No offline queue: the command is refused, not parked until Redis returns.
    await expect(redis.client.ping()).rejects.toThrow(/enableOfflineQueue/);
    const outage = logs.lines.filter((l) => l['message'] === 'redis unavailable; reconnecting in the background');
    expect(outage).toHaveLength(1);
    expect(outage[0]).toMatchObject({ level: 'warn', role: 'prediction-log', redis: `redis://:***@127.0.0.1:${server.port}` });

    await server.start();
    await eventually(() => redis.ready, 'the connection to come back');
    await expect(redis.client.ping()).resolves.toBe('PONG');
    expect(logs.lines.filter((l) => l['message'] === 'redis available again')).toHaveLength(1);
    expect(JSON.stringify(logs.lines)).not.toContain(PASSWORD);
  });

  it('a wrong password is an outage (logged once, without the password), not a crash', async () => {
    const { logs, logger } = capturingLogger();
    const redis = connect(`redis://:wrong-${PASSWORD}@127.0.0.1:${server.port}`, logger);
    let attempts = 0;
    redis.client.on('reconnecting', () => attempts++);
    redis.start();
    await eventually(() => attempts >= 2, 'reconnection attempts');
    expect(redis.ready).toBe(false);
    expect(logs.lines.filter((l) => l['level'] === 'warn')).toHaveLength(1);
    expect(JSON.stringify(logs.lines)).not.toContain(PASSWORD);
  });

  it('stop() quits and stops reconnecting, also when Redis never answered', async () => {
    const redis = connect(`redis://:${PASSWORD}@127.0.0.1:${server.port}`);
    redis.start();
    await eventually(() => redis.ready, 'the connection to be ready');
    await redis.stop();
    expect(redis.client.status).toBe('end');

    await server.stop();
    const absent = connect(`redis://127.0.0.1:${server.port}`);
    let attempts = 0;
    absent.client.on('reconnecting', () => attempts++);
    absent.start();
    await eventually(() => attempts >= 1, 'a reconnection attempt');
    await eventually(() => absent.client.status === 'reconnecting', 'a wait between attempts');
    await absent.stop();
    // Between attempts there is no socket, so ioredis stays 'reconnecting' with its timer cancelled (an internal field:
    // the only way to see, without waiting, that no attempt will follow).
    expect((absent.client as unknown as { reconnectTimeout: unknown }).reconnectTimeout).toBeNull();
  });

  it('reports itself to /health as a non-critical check that follows the connection', async () => {
    const redis = connect(`redis://:${PASSWORD}@127.0.0.1:${server.port}`);
    const check = redis.readiness();
    expect(check).toMatchObject({ name: 'redis', critical: false });
    expect(check.check()).toBe(false);
    redis.start();
    await eventually(() => check.check() === true, 'the check to pass once connected');
  });
});

describe('reconnectDelay', () => {
  it('doubles from 50 ms and stays under the cap (plus 10% jitter)', () => {
    expect(reconnectDelay(1, 2000)).toBeGreaterThanOrEqual(50);
    expect(reconnectDelay(1, 2000)).toBeLessThanOrEqual(55);
    expect(reconnectDelay(3, 2000)).toBeGreaterThanOrEqual(200);
    expect(reconnectDelay(3, 2000)).toBeLessThanOrEqual(220);
    expect(reconnectDelay(1000, 2000)).toBeGreaterThanOrEqual(2000);
    expect(reconnectDelay(1000, 2000)).toBeLessThanOrEqual(2200);
  });
});
