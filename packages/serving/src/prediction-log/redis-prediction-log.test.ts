import type { Redis } from 'ioredis';
import { createLogger } from '../logging/logger';
import { createServingMetrics, Registry } from '../metrics/metrics';
import { createRedis, type RedisConnection } from '../redis/create-redis';
import { connectTestRedis, deleteKeys, testRedisUrl, uniqueKeyPrefix } from '../redis/redis-test-support';
import { eventually } from '../testing/eventually';
import { LogCapture } from '../testing/test-service';
import type { PredictionLogEntry } from './prediction-log';
import { RedisPredictionLog } from './redis-prediction-log';

const entry = (requestId: string, output: unknown = { y: 1 }): PredictionLogEntry => ({
  requestId,
  at: Date.UTC(2025, 0, 2, 3, 4, 5, 678),
  model: { name: 'm', version: '1' },
  input: { x: 1 },
  output,
  latencyMs: 0.12345,
});

describe('RedisPredictionLog', () => {
  let admin: Redis;
  let prefix: string;
  let connection: RedisConnection;
  let log: RedisPredictionLog;
  let metrics: ReturnType<typeof createServingMetrics>;
  const value = async (name: string) => (await metrics.registry.getSingleMetric(name)?.get())?.values.reduce((s, v) => s + v.value, 0);

  beforeAll(async () => {
    admin = await connectTestRedis();
  });
  beforeEach(async () => {
    prefix = uniqueKeyPrefix();
    metrics = createServingMetrics(new Registry(), { defaultMetrics: false });
    const logger = createLogger({ service: 'test', level: 'warn', stream: new LogCapture() });
    connection = createRedis({ REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix }, logger, { role: 'prediction-log' });
    log = new RedisPredictionLog({ redis: connection, service: 'svc', logger, metrics, maxLen: 1000, bufferSize: 100, batchSize: 10 });
    log.start();
    connection.start();
    await eventually(() => connection.ready, 'the connection');
  });
  afterEach(async () => {
    await log?.stop();
    await connection?.stop();
    if (admin) await deleteKeys(admin, prefix);
  });
  afterAll(() => admin?.quit());

  it('stores one JSON field per entry, with an ISO time and snake_case names', async () => {
    log.record(entry('a'));
    log.record({ ...entry('b'), index: 4 });
    await eventually(async () => (await admin.xlen(log.key)) === 2, 'two entries');
    expect(log.key).toBe(`${prefix}predictions:svc`);
    const rows = await admin.xrange(log.key, '-', '+');
    expect(rows.map(([, fields]) => fields)).toEqual([
      ['entry', '{"request_id":"a","time":"2025-01-02T03:04:05.678Z","model":{"name":"m","version":"1"},"input":{"x":1},"output":{"y":1},"latency_ms":0.123}'],
      ['entry', '{"request_id":"b","index":4,"time":"2025-01-02T03:04:05.678Z","model":{"name":"m","version":"1"},"input":{"x":1},"output":{"y":1},"latency_ms":0.123}'],
    ]);
    expect((await log.newest(1)).map((p) => p.request_id)).toEqual(['b']);
  });

  it('drops and counts an entry JSON cannot hold, and writes the rest', async () => {
    log.record(entry('ok-1'));
    log.record(entry('bad', { n: 1n }));
    log.record(entry('ok-2'));
    await eventually(async () => (await value('prediction_log_written_total')) === 2, 'two entries written');
    expect(await value('prediction_log_dropped_total')).toBe(1);
    expect((await log.newest(10)).map((p) => p.request_id)).toEqual(['ok-2', 'ok-1']);
  });

  it('counts records that arrive after stop() as dropped (shutdown)', async () => {
    await log.stop();
    log.record(entry('late'));
    expect(await value('prediction_log_dropped_total')).toBe(1);
    expect(await admin.exists(log.key)).toBe(0);
  });
});
