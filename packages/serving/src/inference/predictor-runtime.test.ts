import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { ModelLoadError } from '../errors/model-load-error';
import { LINEAR_MODEL_DIR, linearPredictor } from '../testing/linear-predictor';
import { eventually } from '../testing/eventually';
import { startTestService } from '../testing/test-service';
import { digestVersion } from './model-repository';

/** A private copy of the fixture model directory that a test may add broken versions to. */
async function modelDirCopy(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'models-'));
  await cp(LINEAR_MODEL_DIR, dir, { recursive: true });
  return dir;
}

async function addVersion(dir: string, version: string, mutate: (files: { card: Record<string, unknown>; onnx: Buffer }) => void) {
  const card = JSON.parse(await readFile(path.join(dir, '1', 'model.json'), 'utf8')) as Record<string, unknown>;
  const onnx = await readFile(path.join(dir, '1', 'model.onnx'));
  const files = { card: { ...card, version }, onnx };
  mutate(files);
  await cp(path.join(dir, '1'), path.join(dir, version), { recursive: true });
  await writeFile(path.join(dir, version, 'model.json'), JSON.stringify(files.card));
  await writeFile(path.join(dir, version, 'model.onnx'), files.onnx);
}

const y1 = (a: number, b: number, c: number) => a + 2 * b + 3 * c + 0.5;
const y2 = (a: number, b: number, c: number) => -a + 0.5 * b + 0.25 * c - 0.5;

describe('PredictorRuntime: versions and hot reload', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await modelDirCopy();
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('serves a pinned version, then swaps to the newest on reload', async () => {
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, MODEL_VERSION: '1' } });
    try {
      const before = await svc.runtime.predict({ a: 1, b: 1, c: 1 });
      expect(before.output.y).toBeCloseTo(y1(1, 1, 1), 5);
      const res = await request(svc.app).post('/admin/model/reload').send({}).expect(200);
      expect(res.body).toEqual({ previous: { name: 'linear', version: '1' }, current: { name: 'linear', version: '2' } });
      const after = await svc.runtime.predict({ a: 1, b: 1, c: 1 });
      expect(after.output.y).toBeCloseTo(y2(1, 1, 1), 5);
      expect(after.model.version).toBe('2');
      expect(await svc.metricValue('model_info', { version: '2' })).toBe(1);
      expect(await svc.metricValue('model_info', { version: '1' })).toBe(0);
      expect(await svc.metricValue('model_reloads_total', { outcome: 'succeeded' })).toBe(1);
    } finally {
      await svc.stop();
    }
  });

  it('loses no request when reloading under load: each answer comes whole from one version', async () => {
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, MODEL_VERSION: '1', MAX_BATCH_DELAY_MS: '1' } });
    const server = svc.app.listen(0);
    try {
      const results: { input: { a: number; b: number; c: number }; status: number; body: { y: number; model: { version: string } } }[] = [];
      let reloaded = false;
      const wave = async (n: number) => {
        await Promise.all(
          Array.from({ length: n }, async (_, i) => {
            const input = { a: i % 7, b: (i % 5) - 2, c: i % 3 };
            const res = await request(server).post('/v1/predict').send(input);
            results.push({ input, status: res.status, body: res.body });
          }),
        );
      };
      const load = (async () => {
        while (!reloaded) await wave(16);
        await wave(16);
      })();
      await eventually(() => results.length >= 16, 'requests answered before the reload');
      const reload = await request(server).post('/admin/model/reload').send({ version: '2' });
      reloaded = true;
      await load;
      expect(reload.status).toBe(200);
      const versions = new Set<string>();
      for (const { input, status, body } of results) {
        expect(status).toBe(200);
        const want = body.model.version === '1' ? y1(input.a, input.b, input.c) : y2(input.a, input.b, input.c);
        expect(body.y).toBeCloseTo(want, 4);
        versions.add(body.model.version);
      }
      expect(versions).toEqual(new Set(['1', '2']));
      expect(results.length).toBeGreaterThanOrEqual(32);
    } finally {
      server.close();
      await svc.stop();
    }
  });

  it.each([
    ['a corrupt graph', (f: { onnx: Buffer }) => void (f.onnx = Buffer.from('not an onnx model')), 'sha256'],
    [
      'a corrupt graph whose card sha256 matches it',
      (f: { card: Record<string, unknown>; onnx: Buffer }) => {
        f.onnx = Buffer.from('garbage bytes, hashed honestly');
        f.card['onnx_sha256'] = require('node:crypto').createHash('sha256').update(f.onnx).digest('hex');
        f.card['files'] = { 'model.onnx': f.card['onnx_sha256'] };
      },
      'onnxruntime cannot load',
    ],
    [
      'a card whose input does not match the graph',
      (f: { card: Record<string, unknown> }) => void (f.card['inputs'] = [{ name: 'features', type: 'float32', shape: [-1, 3] }]),
      'does not match its card',
    ],
    [
      'a card whose input width differs from the graph',
      (f: { card: Record<string, unknown> }) => void (f.card['inputs'] = [{ name: 'x', type: 'float32', shape: [-1, 4] }]),
      'does not match its card',
    ],
    ['a card for another model', (f: { card: Record<string, unknown> }) => void (f.card['name'] = 'other'), "names 'other'"],
  ])('keeps the old model serving when the new version has %s', async (_what, mutate, message) => {
    await addVersion(dir, '7', mutate);
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, MODEL_VERSION: '2' } });
    try {
      const res = await request(svc.app).post('/admin/model/reload').send({ version: '7' }).expect(422);
      expect(res.body.error.code).toBe('model_load_failed');
      expect(JSON.stringify(res.body.error)).toContain(message);
      const after = await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(200);
      expect(after.body.model.version).toBe('2');
      await request(svc.app).get('/health/ready').expect(200);
      expect(await svc.metricValue('model_reloads_total', { outcome: 'failed' })).toBe(1);
    } finally {
      await svc.stop();
    }
  });

  it('refuses a version whose golden vectors it does not reproduce', async () => {
    await addVersion(dir, '8', () => undefined);
    const golden = { tolerance: 1e-5, rows: [{ input: { a: 1, b: 1, c: 1 }, y: y1(1, 1, 1) + 0.01 }] };
    /** golden.json written into version 8, and the card listing it (as a version written so would). */
    const writeGolden = async () => {
      await writeFile(path.join(dir, '8', 'golden.json'), JSON.stringify(golden));
      const card = JSON.parse(await readFile(path.join(dir, '8', 'model.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(path.join(dir, '8', 'model.json'), JSON.stringify({ ...card, files: await digestVersion(path.join(dir, '8')) }));
    };
    await writeGolden();
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, MODEL_VERSION: '1' } });
    try {
      await expect(svc.runtime.reload('8')).rejects.toThrow(/golden vectors/);
      golden.rows[0]!.y = y1(1, 1, 1);
      await writeGolden();
      await expect(svc.runtime.reload('8')).resolves.toMatchObject({ current: { version: '8' } });
    } finally {
      await svc.stop();
    }
  });

  it('fails to start on a missing model directory with a clear error', async () => {
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: path.join(dir, 'nope') }, start: false });
    await expect(svc.runtime.start()).rejects.toBeInstanceOf(ModelLoadError);
    await svc.stop();
  });
});

describe('PredictorRuntime: worker-thread mode', () => {
  it('gives the same answers as inline mode, from a pool of worker threads', async () => {
    const inline = await startTestService({ predictor: linearPredictor, env: { MODEL_VERSION: '1' } });
    const worker = await startTestService({ predictor: linearPredictor, env: { MODEL_VERSION: '1', INFERENCE_MODE: 'worker', INFERENCE_WORKERS: '2' } });
    try {
      const inputs = Array.from({ length: 50 }, (_, i) => ({ a: i + 0.5, b: -i / 3, c: 0.5 }));
      const a = await Promise.all(inputs.map((x) => inline.runtime.predict(x)));
      const runsBefore = await worker.metricValue('model_batch_size_rows', {}, '_count');
      const b = await Promise.all(inputs.map((x) => worker.runtime.predict(x)));
      const runs = (await worker.metricValue('model_batch_size_rows', {}, '_count')) - runsBefore;
      b.forEach((r, i) => {
        expect(r.output.y).toBeCloseTo(a[i]!.output.y, 6);
        expect(r.output.y).toBeCloseTo(y1(inputs[i]!.a, inputs[i]!.b, 0.5), 4);
      });
      // 50 concurrent predictions on 2 threads: coalesced into fewer runs than rows (MAX_BATCH_SIZE=1 fails this).
      expect(runs).toBeLessThan(50);
      await expect(worker.runtime.reload('2')).resolves.toMatchObject({ current: { version: '2' } });
      expect((await worker.runtime.predict({ a: 1, b: 1, c: 1 })).output.y).toBeCloseTo(y2(1, 1, 1), 5);
    } finally {
      await inline.stop();
      await worker.stop();
    }
  });
});
