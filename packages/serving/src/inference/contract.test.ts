import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import request from 'supertest';
import { z } from 'zod';
import { ModelLoadError } from '../errors/model-load-error';
import { jsonDecoder } from '../http/json-decoder';
import { multipartDecoder, type MultipartBody } from '../http/multipart-decoder';
import { ndjsonDecoder } from '../http/ndjson-decoder';
import { createServiceApp } from '../service/create-service-app';
import { eventually } from '../testing/eventually';
import { FixtureStore, contribPredictor, lookupPredictor, twoInputPredictor } from '../testing/fixture-predictors';
import { LINEAR_MODEL_DIR, linearPredictor } from '../testing/linear-predictor';
import { startTestService } from '../testing/test-service';
import { modelCardSchema } from './model-card';
import { digestVersion } from './model-repository';

async function copyOf(dir: string): Promise<string> {
  const copy = await mkdtemp(path.join(os.tmpdir(), 'models-'));
  await cp(dir, copy, { recursive: true });
  return copy;
}

async function editJson(file: string, edit: (value: Record<string, unknown>) => void): Promise<void> {
  const value = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(value);
  await writeFile(file, JSON.stringify(value));
}

const y1 = ([a, b, c]: readonly number[]) => (a as number) + 2 * (b as number) + 3 * (c as number) + 0.5;

describe('core v2 contract: tensors', () => {
  it('feeds two inputs of two element types (float32, int64) and returns a whole vector output per row', async () => {
    const svc = await startTestService({ predictor: twoInputPredictor, env: { MAX_BATCH_DELAY_MS: '20' } });
    try {
      const one = await request(svc.app).post('/v1/predict').send({ a: 1.5, b: 2, k: 4 }).expect(200);
      expect(one.body).toEqual({ total: 7.5, scaled: [6, 8], model: { name: 'two-io', version: '1' } });
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => request(svc.app).post('/v1/predict').send({ a: i, b: 1, k: i % 3 })),
      );
      answers.forEach((res, i) => expect(res.body).toMatchObject({ total: i + 1 + (i % 3), scaled: [i * (i % 3), i % 3] }));
      // Concurrent requests were concatenated per input into fewer runs.
      expect(await svc.metricValue('model_batch_size_rows', { version: '1' }, '_count')).toBeLessThan(2 + 1 + 12);
      const batch = await request(svc.app).post('/v1/predict/batch').send({ instances: [{ a: 1, b: 1, k: 2 }, { a: 0, b: 0, k: -1 }] }).expect(200);
      expect(batch.body.predictions[0]).toEqual({ total: 4, scaled: [2, 2] });
      expect(batch.body.predictions[1].error).toMatchObject({ code: 'validation_error', request_id: expect.any(String) });
    } finally {
      await svc.stop();
    }
  });

  it('checks golden vectors element by element: a version wrong only in the third element is refused', async () => {
    const good = await startTestService({ predictor: contribPredictor });
    const res = await request(good.app).post('/v1/predict').send({ a: 2, b: 1, c: 1 }).expect(200);
    expect(res.body.contributions).toEqual([1, -2, 4, 0.25]);
    await good.stop();

    const dir = await copyOf(contribPredictor.defaultModelDir);
    try {
      await editJson(path.join(dir, '1', 'golden.json'), (golden) => {
        const rows = golden['rows'] as { contributions: number[] }[];
        (rows[1] as { contributions: number[] }).contributions[2] = 99;
      });
      const files = await digestVersion(path.join(dir, '1')); // a version written so, card and all
      await editJson(path.join(dir, '1', 'model.json'), (card) => (card['files'] = files));
      const failure = await startTestService({ predictor: contribPredictor, env: { MODEL_DIR: dir } }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(ModelLoadError);
      expect((failure as ModelLoadError).details).toMatchObject({ failed: 1, failures: [{ row: 1, output: 'contributions', element: 2, expected: 99 }] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a card whose per-row shape is dynamic, at load, naming the reason', async () => {
    const card = { name: 'm', version: '1', files: { 'model.onnx': 'a'.repeat(64) }, onnx_sha256: 'a'.repeat(64), outputs: [{ name: 'y', type: 'float32', shape: [-1, 1] }] };
    const image = modelCardSchema.safeParse({ ...card, inputs: [{ name: 'image', type: 'float32', shape: [-1, 3, -1, -1] }] });
    expect(image.success).toBe(false);
    expect(JSON.stringify(image.error?.issues)).toContain('must be fixed');
    expect(modelCardSchema.safeParse({ ...card, inputs: [{ name: 'k', type: 'int64', shape: [-1, 4] }] }).success).toBe(true);

    const dir = await copyOf(LINEAR_MODEL_DIR);
    try {
      await editJson(path.join(dir, '1', 'model.json'), (c) => (c['inputs'] = [{ name: 'x', type: 'float32', shape: [-1, -1] }]));
      await expect(startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, MODEL_VERSION: '1' } })).rejects.toThrow(/card of version 1 is invalid/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('core v2 contract: the asynchronous prepare stage', () => {
  it('prepares a batch in one call, refusing instances in place (404 unknown id) and predicting the rest', async () => {
    const store = new FixtureStore();
    const svc = await startTestService({ predictor: lookupPredictor(store), env: { MODEL_VERSION: '1' } });
    try {
      const before = store.calls;
      const res = await request(svc.app)
        .post('/v1/predict/batch')
        .send({ instances: [{ id: 'p1' }, { id: 'nobody' }, { x: [0, 0, 1] }, { id: 'p2' }] })
        .expect(200);
      expect(store.calls - before).toBe(1);
      expect(res.body.predictions[0].y).toBeCloseTo(y1([1, 1, 1]), 5);
      expect(res.body.predictions[1].error).toMatchObject({ code: 'not_found', message: "no stored features for id 'nobody'" });
      expect(res.body.predictions[2].y).toBeCloseTo(y1([0, 0, 1]), 5);
      expect(res.body.predictions[3].y).toBeCloseTo(y1([2, 0, 1]), 5);
      expect(res.body).toMatchObject({ succeeded: 3, failed: 1 });
      await request(svc.app).post('/v1/predict').send({ id: 'nobody' }).expect(404);
      expect(await svc.metricValue('model_prepare_duration_seconds', { model: 'linear' }, '_count')).toBeGreaterThanOrEqual(2);
    } finally {
      await svc.stop();
    }
  });

  it('skips the stage for a request whose every instance is already prepared (asPrepared), even with every prepare slot taken', async () => {
    const store = new FixtureStore();
    const svc = await startTestService({ predictor: lookupPredictor(store, { inlineAsPrepared: true }), env: { PREPARE_CONCURRENCY: '1', MODEL_VERSION: '1' } });
    const prepared = async () => (await svc.metricValue('model_prepare_duration_seconds', { model: 'linear' }, '_count')) ?? 0;
    try {
      store.hold();
      const held = request(svc.app).post('/v1/predict').send({ id: 'p1' }).then((r) => r);
      await eventually(() => store.active === 1, 'a lookup holding the only prepare slot');
      const before = await prepared();
      const one = await request(svc.app).post('/v1/predict').send({ x: [0, 0, 1] }).expect(200);
      expect(one.body.y).toBeCloseTo(y1([0, 0, 1]), 5);
      const batch = await request(svc.app).post('/v1/predict/batch').send({ instances: [{ x: [1, 1, 1] }, { x: [2, 0, 1] }] }).expect(200);
      expect(batch.body.predictions.map((p: { y: number }) => p.y)).toEqual([expect.closeTo(y1([1, 1, 1]), 5), expect.closeTo(y1([2, 0, 1]), 5)]);
      // A request with one instance that needs the store goes through prepare whole: it waits for the slot.
      const mixed = request(svc.app)
        .post('/v1/predict/batch')
        .send({ instances: [{ x: [0, 0, 1] }, { id: 'p2' }] })
        .then((r) => r);
      for (let i = 0; i < 10; i++) await tick();
      expect(store.calls).toBe(1);
      store.unhold();
      expect((await held).status).toBe(200);
      const answer = await mixed;
      expect(answer.body.predictions.map((p: { y: number }) => p.y)).toEqual([expect.closeTo(y1([0, 0, 1]), 5), expect.closeTo(y1([2, 0, 1]), 5)]);
      expect(store.calls).toBe(2);
      expect((await prepared()) - before).toBe(2); // the held request's and the mixed one's, none for the inline ones
    } finally {
      store.unhold();
      await svc.stop();
    }
  });

  it('answers 503 when the dependency is down, while inline instances still succeed', async () => {
    const store = new FixtureStore();
    const svc = await startTestService({ predictor: lookupPredictor(store) });
    try {
      store.down = true;
      const res = await request(svc.app).post('/v1/predict').send({ id: 'p1' }).expect(503);
      expect(res.body.error.code).toBe('store_unavailable');
      await request(svc.app).post('/v1/predict').send({ x: [1, 0, 0] }).expect(200);
    } finally {
      await svc.stop();
    }
  });

  it('runs at most PREPARE_CONCURRENCY prepare calls at once', async () => {
    const store = new FixtureStore();
    const svc = await startTestService({ predictor: lookupPredictor(store), env: { PREPARE_CONCURRENCY: '2' } });
    try {
      store.hold();
      const pending = Promise.all(Array.from({ length: 8 }, () => request(svc.app).post('/v1/predict').send({ id: 'p1' })));
      await eventually(() => store.active === 2, 'two prepare calls in flight');
      for (let i = 0; i < 10; i++) await tick();
      expect(store.active).toBe(2);
      store.unhold();
      expect((await pending).map((r) => r.status)).toEqual(new Array(8).fill(200));
      expect(store.peak).toBe(2);
    } finally {
      await svc.stop();
    }
  });

  it('aborts the signal prepare passed to its I/O at REQUEST_TIMEOUT_MS: 503 inference_timeout while the store still hangs, then the next request is served', async () => {
    const store = new FixtureStore();
    const svc = await startTestService({ predictor: lookupPredictor(store), env: { REQUEST_TIMEOUT_MS: '150' } });
    try {
      store.hold();
      const started = performance.now();
      const res = await request(svc.app).post('/v1/predict').send({ id: 'p1' });
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: 'inference_timeout', message: 'prediction did not finish within 150 ms' });
      expect(performance.now() - started).toBeGreaterThanOrEqual(140); // not before the deadline
      store.unhold();
      await request(svc.app).post('/v1/predict').send({ id: 'p1' }).expect(200);
    } finally {
      await svc.stop();
    }
  });

  it('answers 503 inference_timeout when a prepare that ignores its signal returns after REQUEST_TIMEOUT_MS, and the next request is served', async () => {
    const store = new FixtureStore();
    store.cooperative = false;
    const svc = await startTestService({ predictor: lookupPredictor(store), env: { REQUEST_TIMEOUT_MS: '150' } });
    try {
      store.hold();
      const answered = request(svc.app).post('/v1/predict').send({ id: 'p1' }).then((res) => res);
      await eventually(() => store.active === 1, 'a request in prepare');
      await new Promise((resolve) => setTimeout(resolve, 250));
      store.unhold();
      const res = await answered;
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: 'inference_timeout', message: 'prediction did not finish within 150 ms' });
      await request(svc.app).post('/v1/predict').send({ id: 'p1' }).expect(200);
    } finally {
      await svc.stop();
    }
  });

  it('holds the version a request started on through prepare, across a reload, and stop() waits for it', async () => {
    const store = new FixtureStore();
    const svc = await startTestService({ predictor: lookupPredictor(store), env: { MODEL_VERSION: '1' } });
    store.hold();
    const inPrepare = request(svc.app).post('/v1/predict').send({ id: 'p1' }).then((r) => r);
    await eventually(() => store.active === 1, 'a request in prepare');
    const swapped = await svc.runtime.reload('2');
    expect(swapped.current.version).toBe('2');
    let stopped = false;
    const stopping = svc.runtime.stop().then(() => (stopped = true));
    for (let i = 0; i < 10; i++) await tick();
    expect(stopped).toBe(false); // version 1 is still leased by the request in prepare
    store.unhold();
    const res = await inPrepare;
    expect(res.status).toBe(200);
    expect(res.body.model.version).toBe('1');
    expect(res.body.y).toBeCloseTo(y1([1, 1, 1]), 5);
    await stopping;
    expect(stopped).toBe(true);
  });

  it('warms up with warmup() instances (no example needed) and bounds the warm-up with WARMUP_TIMEOUT_MS', async () => {
    const store = new FixtureStore();
    const svc = await startTestService({ predictor: lookupPredictor(store) });
    expect(svc.runtime.ready).toBe(true);
    await svc.stop();
    const stuck = { ...lookupPredictor(store), warmup: () => [{ id: 'p1' }] };
    store.hold();
    try {
      await expect(startTestService({ predictor: stuck, env: { WARMUP_TIMEOUT_MS: '50' } })).rejects.toThrow(/warm-up of version \d+ did not finish within 50 ms/);
    } finally {
      store.unhold();
    }
  });
});

describe('core v2 contract: service routes, request decoders, readiness', () => {
  let healthy = true;
  let logStore = true;
  const start = () =>
    startTestService({
      predictor: linearPredictor,
      createApp: (deps) =>
        createServiceApp(deps, {
          readiness: [
            { name: 'feature_store', critical: true, check: () => healthy },
            { name: 'prediction_log', critical: false, check: () => logStore },
          ],
          routes: (routes) => {
            routes.add({
              method: 'post',
              path: '/v1/upload',
              summary: 'an upload',
              scope: 'predict',
              body: { decoders: [multipartDecoder({ fileFields: ['image'], maxFiles: 2, maxFileBytes: 1000, textFields: ['note'] }), jsonDecoder(1000)] },
              responses: { 200: { description: 'sizes', schema: z.object({ sizes: z.array(z.number()) }) } },
              handler: (req, res) => {
                const body = req.body as MultipartBody;
                res.json({ sizes: body.files ? body.files.map((f) => f.data.length) : [], note: body.fields?.['note'] });
              },
            });
            routes.add({
              method: 'post',
              path: '/v1/lines',
              summary: 'NDJSON instances',
              scope: 'predict',
              body: { decoders: [ndjsonDecoder({ limitBytes: 10_000, maxLines: 3 })] },
              responses: { 200: { description: 'count' } },
              handler: (req, res) => {
                res.json(req.body);
              },
            });
          },
        }),
    });

  it("serves a service's own routes with their decoders, and documents them", async () => {
    const svc = await start();
    try {
      const up = await request(svc.app).post('/v1/upload').attach('image', Buffer.alloc(10), 'a.png').attach('image', Buffer.alloc(20), 'b.png').field('note', 'hi').expect(200);
      expect(up.body).toEqual({ sizes: [10, 20], note: 'hi' });
      const big = await request(svc.app).post('/v1/upload').attach('image', Buffer.alloc(1001), 'a.png').expect(413);
      expect(big.body.error).toMatchObject({ code: 'payload_too_large', details: { field: 'image', limit_bytes: 1000 } });
      const stray = await request(svc.app).post('/v1/upload').attach('photo', Buffer.alloc(1), 'a.png').expect(400);
      expect(stray.body.error.message).toContain("unexpected file field 'photo'");
      await request(svc.app).post('/v1/upload').set('content-type', 'text/plain').send('x').expect(415);

      const lines = await request(svc.app).post('/v1/lines').set('content-type', 'application/x-ndjson').send('{"a":1}\n\n{"a":2}\n').expect(200);
      expect(lines.body).toEqual({ instances: [{ a: 1 }, { a: 2 }] });
      const bad = await request(svc.app).post('/v1/lines').set('content-type', 'application/x-ndjson').send('{"a":1}\n{oops\n').expect(400);
      expect(bad.body.error).toMatchObject({ code: 'invalid_json', details: { line: 2 } });
      await request(svc.app).post('/v1/lines').set('content-type', 'application/x-ndjson').send('1\n2\n3\n4\n').expect(413);
      await request(svc.app).get('/v1/lines').expect(405);

      const doc = (await request(svc.app).get('/openapi.json').expect(200)).body;
      expect(Object.keys(doc.paths['/v1/upload'].post.requestBody.content)).toEqual(['multipart/form-data', 'application/json']);
      expect(doc.paths['/v1/upload'].post.requestBody.content['multipart/form-data'].schema.properties.image).toMatchObject({ type: 'array', items: { format: 'binary' } });
      expect(Object.keys(doc.paths['/v1/lines'].post.requestBody.content)).toEqual(['application/x-ndjson']);
      // The documented response of POST /v1/predict accepts what it answers (the model ref beside the output).
      const predicted = doc.paths['/v1/predict'].post.responses['200'].content['application/json'].schema;
      expect(predicted.required).toEqual(expect.arrayContaining(['y', 'p', 'model']));
    } finally {
      await svc.stop();
    }
  });

  it('readiness follows critical checks; a failing non-critical check only shows as degraded', async () => {
    const svc = await start();
    try {
      await request(svc.app).get('/health/ready').expect(200);
      logStore = false;
      await request(svc.app).get('/health/ready').expect(200);
      expect((await request(svc.app).get('/health').expect(200)).body).toMatchObject({ status: 'degraded', checks: { prediction_log: 'degraded', feature_store: 'ok' } });
      healthy = false;
      expect((await request(svc.app).get('/health/ready').expect(503)).body.status).toBe('unavailable');
    } finally {
      healthy = true;
      logStore = true;
      await svc.stop();
    }
  });
});
