import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import request from 'supertest';
import { eventually, startTestService, type TestService } from '@predict/serving/testing';
import { vehicleParts } from './app';
import { loadConfig } from './config';
import { vehiclePredictor } from './predictor';

// Generous bounds: the machine is shared and every upload is really decoded (these are deadlines, not timings).
jest.setTimeout(180_000);

const MODEL_ROOT = path.resolve(__dirname, '../model');
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

interface GoldenRow {
  name: string;
  label: string;
  input: { image_base64: string };
  probabilities: number[];
}

/** The service as main.ts wires it (its own config parsed from `env`), with the real model. */
async function start(env: Record<string, string> = {}): Promise<TestService> {
  const all = { LOG_LEVEL: 'warn', ACCESS_LOG: 'false', NODE_ENV: 'test', MODEL_POLL_INTERVAL_MS: '0', MAX_IMAGE_PIXELS: '1000000', ...env };
  const config = loadConfig(all);
  return startTestService({ predictor: vehiclePredictor({ maxPixels: config.MAX_IMAGE_PIXELS }), env: all, parts: vehicleParts(config) });
}

const photo = (width = 640, height = 480, colour = '#6688aa') =>
  sharp({ create: { width, height, channels: 3, background: colour } })
    .composite([{ input: { create: { width: Math.round(width / 2), height: Math.round(height / 4), channels: 3, background: '#202020' } }, left: Math.round(width / 4), top: Math.round(height / 2) }])
    .jpeg({ quality: 80 })
    .toBuffer();

describe('vehicle-classifier over HTTP, with the real model', () => {
  let svc: TestService;
  let golden: GoldenRow[];
  let classes: string[];

  beforeAll(async () => {
    svc = await start();
    const version = svc.runtime.model().version;
    golden = (JSON.parse(readFileSync(path.join(MODEL_ROOT, version, 'golden.json'), 'utf8')) as { rows: GoldenRow[] }).rows;
    classes = (JSON.parse(readFileSync(path.join(MODEL_ROOT, version, 'model.json'), 'utf8')) as { classes: string[] }).classes;
  });
  afterAll(() => svc.stop());

  it('golden uploads: image files give the recorded top-1 and probabilities (1e-4), as multipart and as JSON', async () => {
    expect(golden.length).toBeGreaterThanOrEqual(6);
    for (const row of golden) {
      const bytes = Buffer.from(row.input.image_base64, 'base64');
      const res = await request(svc.app).post('/v1/classify?top_k=6').attach('image', bytes, 'upload.bin').expect(200);
      expect(res.body.label).toBe(row.label);
      expect(res.body.model).toEqual({ name: 'vehicle-classifier', version: svc.runtime.model().version });
      const byLabel = new Map((res.body.top_k as { label: string; probability: number }[]).map((e) => [e.label, e.probability]));
      classes.forEach((c, i) => expect(Math.abs(byLabel.get(c)! - row.probabilities[i]!)).toBeLessThanOrEqual(1e-4));
      expect(res.body.confidence).toBe(res.body.top_k[0].probability);
    }
    const first = golden[0]!;
    const json = await request(svc.app).post('/v1/classify').send({ image_base64: first.input.image_base64 }).expect(200);
    expect(json.body.label).toBe(first.label);
    expect(json.body.top_k).toHaveLength(3);
  });

  it('top_k: default 3, 1..classes, anything else a 400 naming it', async () => {
    const bytes = Buffer.from(golden[0]!.input.image_base64, 'base64');
    expect((await request(svc.app).post('/v1/classify?top_k=1').attach('image', bytes, 'a.jpg').expect(200)).body.top_k).toHaveLength(1);
    for (const bad of ['0', String(classes.length + 1), 'two', '1.5']) {
      const res = await request(svc.app).post(`/v1/classify?top_k=${bad}`).attach('image', bytes, 'a.jpg').expect(400);
      expect(JSON.stringify(res.body.error)).toContain('top_k');
    }
  });

  it('refuses bad uploads with a clear 4xx: not an image, truncated, a pixel bomb, too many bytes, bad base64, stray fields', async () => {
    const text = await request(svc.app).post('/v1/classify').attach('image', Buffer.from('just some notes, not a photo\n'), { filename: 'car.jpg', contentType: 'image/jpeg' }).expect(400);
    expect(text.body.error).toMatchObject({ code: 'invalid_image' });
    expect(text.body.error.message).toContain('not a JPEG, PNG or WebP');
    expect(text.body.error.request_id).toEqual(expect.any(String));

    const jpeg = await photo();
    const truncated = await request(svc.app).post('/v1/classify').attach('image', jpeg.subarray(0, jpeg.length >> 1), 'cut.jpg').expect(400);
    expect(truncated.body.error.code).toBe('invalid_image');
    expect(truncated.body.error.message).toMatch(/^image: cannot be decoded as jpeg/);
    expect(JSON.stringify(truncated.body)).not.toContain('    at '); // no stack

    const bomb = await sharp({ create: { width: 1001, height: 1000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
    const bombRes = await request(svc.app).post('/v1/classify').attach('image', bomb, 'bomb.png').expect(400);
    expect(bombRes.body.error.message).toContain('exceeds the limit of 1000000');

    const huge = Buffer.alloc(60 * 1024 * 1024, 0xff);
    const big = await request(svc.app).post('/v1/classify').attach('image', huge, 'huge.jpg').expect(413);
    expect(big.body.error).toMatchObject({ code: 'payload_too_large', details: { field: 'image', limit_bytes: 8 * 1024 * 1024 } });

    const base64 = await request(svc.app).post('/v1/classify').send({ image_base64: 'not base64 at all!' }).expect(400);
    expect(base64.body.error.message).toContain('image_base64');
    await request(svc.app).post('/v1/classify').attach('photo', jpeg, 'a.jpg').expect(400);
    await request(svc.app).post('/v1/classify').set('content-type', 'image/jpeg').send(jpeg).expect(415);
    await request(svc.app).post('/v1/classify').attach('image', jpeg, 'a.jpg').attach('image', jpeg, 'b.jpg').expect(413);
  });

  it('batch: several files in one multipart request, answered in order, a bad one in place; JSON too; at most 16', async () => {
    const [a, b] = [golden[0]!, golden[1]!];
    const res = await request(svc.app)
      .post('/v1/classify/batch?top_k=2')
      .attach('image', Buffer.from(a.input.image_base64, 'base64'), 'a.jpg')
      .attach('image', Buffer.from('not an image'), 'b.jpg')
      .attach('image', Buffer.from(b.input.image_base64, 'base64'), 'c.jpg')
      .expect(200);
    expect(res.body).toMatchObject({ succeeded: 2, failed: 1, model: { name: 'vehicle-classifier' } });
    expect(res.body.predictions[0].label).toBe(a.label);
    expect(res.body.predictions[0].top_k).toHaveLength(2);
    expect(res.body.predictions[1].error.code).toBe('invalid_image');
    expect(res.body.predictions[2].label).toBe(b.label);

    const json = await request(svc.app).post('/v1/classify/batch').send({ instances: [{ image_base64: b.input.image_base64 }] }).expect(200);
    expect(json.body.predictions[0].label).toBe(b.label);

    let tooMany = request(svc.app).post('/v1/classify/batch');
    for (let i = 0; i < 17; i++) tooMany = tooMany.attach('image', Buffer.from(a.input.image_base64, 'base64'), `${i}.jpg`);
    expect((await tooMany.expect(413)).body.error.message).toContain('at most 16 files');
    await request(svc.app).post('/v1/classify/batch').send({ instances: [] }).expect(400);
  });

  it('documents both routes with both body types', async () => {
    const doc = (await request(svc.app).get('/openapi.json').expect(200)).body;
    for (const route of ['/v1/classify', '/v1/classify/batch']) expect(Object.keys(doc.paths[route].post.requestBody.content)).toEqual(['multipart/form-data', 'application/json']);
    expect(doc.paths['/v1/predict']).toBeUndefined();
  });
});

describe('dynamic batching and memory', () => {
  it('runs concurrent uploads together (the batch-size histogram shows runs of several rows)', async () => {
    const svc = await start({ MAX_BATCH_DELAY_MS: '200' });
    try {
      const jpeg = await photo();
      const runsBefore = await svc.metricValue('model_batch_size_rows', {}, '_count');
      const rowsBefore = await svc.metricValue('model_batch_size_rows', {}, '_sum');
      await Promise.all(Array.from({ length: 12 }, () => request(svc.app).post('/v1/classify').attach('image', jpeg, 'a.jpg').expect(200)));
      const runs = (await svc.metricValue('model_batch_size_rows', {}, '_count')) - runsBefore;
      const rows = (await svc.metricValue('model_batch_size_rows', {}, '_sum')) - rowsBefore;
      expect(rows).toBe(12);
      expect(runs).toBeLessThan(12);
    } finally {
      await svc.stop();
    }
  });

  it('keeps memory bounded over 2,000 uploads', async () => {
    const svc = await start();
    try {
      const images = await Promise.all(['#6688aa', '#aa8866', '#88aa66', '#222222'].map((c) => photo(640, 480, c)));
      const batch = () => {
        let req = request(svc.app).post('/v1/classify/batch');
        for (let i = 0; i < 16; i++) req = req.attach('image', images[i % images.length]!, `${i}.jpg`);
        return req.expect(200);
      };
      for (let i = 0; i < 5; i++) await batch(); // warm: allocator pools, sharp's caches
      const before = process.memoryUsage().rss;
      let peak = before;
      for (let i = 0; i < 125; i += 2) {
        await Promise.all([batch(), batch()]);
        peak = Math.max(peak, process.memoryUsage().rss);
      }
      // Generous: every upload held on to would be 2,000 × (~30 kB bytes + 49 kB tensor) ≈ 160 MB more.
      expect(peak - before).toBeLessThan(150 * 1024 * 1024);
    } finally {
      await svc.stop();
    }
  }, 300_000);
});

describe('result cache in Redis', () => {
  const prefix = `test:vehicle-classifier:${randomUUID()}:`;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('answers a repeated image from the cache (keyed by model version and sha256), counting hits and misses', async () => {
    const svc = await start({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    try {
      await eventually(async () => (await request(svc.app).get('/health')).body.checks?.result_cache === 'ok', 'the cache connected', 20_000);
      const jpeg = await photo(320, 240, '#3366cc');
      const first = await request(svc.app).post('/v1/classify?top_k=6').attach('image', jpeg, 'a.jpg').expect(200);
      expect(await svc.metricValue('prediction_cache_lookups_total', { result: 'miss' })).toBe(1);
      const { createHash } = await import('node:crypto');
      const key = `${prefix}vehicle-classifier:result:${first.body.model.version}:${createHash('sha256').update(jpeg).digest('hex')}`;
      await eventually(async () => (await redis.exists(key)) === 1, 'the cache entry written', 20_000);
      expect(await redis.ttl(key)).toBeGreaterThan(0);
      const second = await request(svc.app).post('/v1/classify?top_k=2').attach('image', jpeg, 'a.jpg').expect(200);
      expect(await svc.metricValue('prediction_cache_lookups_total', { result: 'hit' })).toBe(1);
      expect(second.body).toEqual({ ...first.body, top_k: first.body.top_k.slice(0, 2) });
    } finally {
      await svc.stop();
    }
  });

  it('never fails a classification when the cache is away or hangs', async () => {
    // Nothing listens on 7498: every lookup is `unavailable`, every answer still 200.
    const absent = await start({ REDIS_URL: 'redis://127.0.0.1:7498', REDIS_KEY_PREFIX: prefix });
    try {
      await request(absent.app).post('/v1/classify').attach('image', await photo(), 'a.jpg').expect(200);
      expect(await absent.metricValue('prediction_cache_lookups_total', { result: 'unavailable' })).toBe(1);
      expect((await request(absent.app).get('/health/ready')).status).toBe(200);
    } finally {
      await absent.stop();
    }

    // A private redis-server that stops answering mid-way (SIGSTOP): lookups time out, answers are still 200.
    const server: ChildProcess = spawn('redis-server', ['--port', '7497', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const svc = await start({ REDIS_URL: 'redis://127.0.0.1:7497', REDIS_KEY_PREFIX: prefix, RESULT_CACHE_TIMEOUT_MS: '100' });
    try {
      await eventually(async () => (await request(svc.app).get('/health')).body.checks?.result_cache === 'ok', 'the private Redis up', 20_000);
      await request(svc.app).post('/v1/classify').attach('image', await photo(320, 240, '#101010'), 'a.jpg').expect(200);
      server.kill('SIGSTOP');
      const res = await request(svc.app).post('/v1/classify').attach('image', await photo(320, 240, '#c0c0c0'), 'b.jpg').expect(200);
      expect(res.body.label).toEqual(expect.any(String));
      expect(await svc.metricValue('prediction_cache_lookups_total', { result: 'unavailable' })).toBeGreaterThanOrEqual(1);
    } finally {
      server.kill('SIGCONT');
      await svc.stop();
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
    }
  });
});
