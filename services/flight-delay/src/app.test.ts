import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ModelRepository } from '@predict/serving';
import { eventually, startTestService, type TestService } from '@predict/serving/testing';
import request from 'supertest';
import { createApp } from './app';
import { flightDelayPredictor } from './predictor';
import { MAX_BATCH_INSTANCES } from './schema';

const MODEL_DIR = path.resolve(__dirname, '../model');
const flight = { origin: 'ORD', destination: 'LAX', scheduled_departure: '2001-06-15T17:30' };

describe('flight-delay service', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ predictor: flightDelayPredictor, createApp });
  });
  afterAll(() => svc.stop());

  it('predicts a probability and expected minutes with the real model', async () => {
    const res = await request(svc.app).post('/v1/predict').send(flight).expect(200);
    expect(res.body.probability_delayed).toBeGreaterThan(0);
    expect(res.body.probability_delayed).toBeLessThan(1);
    expect(Number.isFinite(res.body.expected_delay_minutes)).toBe(true);
    expect(res.body.model).toEqual({ name: 'flight-delay', version: expect.stringMatching(/^\d+$/) });
  });

  it('answers differently for different flights (the model reads its inputs)', async () => {
    const early = await request(svc.app).post('/v1/predict').send({ ...flight, scheduled_departure: '2001-06-15T06:00' }).expect(200);
    const late = await request(svc.app).post('/v1/predict').send({ ...flight, scheduled_departure: '2001-06-15T19:00' }).expect(200);
    // Evening departures inherit the day's knock-on delays: the model must have learned that.
    expect(late.body.probability_delayed).toBeGreaterThan(early.body.probability_delayed);
  });

  it('accepts lower-case codes, seconds, and a given distance', async () => {
    const a = await request(svc.app).post('/v1/predict').send({ ...flight, origin: 'ord', destination: 'lax' }).expect(200);
    const b = await request(svc.app).post('/v1/predict').send({ ...flight, scheduled_departure: '2001-06-15T17:30:00' }).expect(200);
    expect(a.body.probability_delayed).toBe(b.body.probability_delayed);
    await request(svc.app).post('/v1/predict').send({ ...flight, distance_miles: 1745 }).expect(200);
  });

  describe('bad input', () => {
    const post = (body: unknown) => request(svc.app).post('/v1/predict').send(body as object);
    const fields = (res: request.Response) => (res.body.error.details as { path: string }[]).map((d) => d.path).sort();

    it('malformed JSON → 400 invalid_json', async () => {
      const res = await request(svc.app).post('/v1/predict').set('Content-Type', 'application/json').send('{"origin": "ORD",').expect(400);
      expect(res.body.error.code).toBe('invalid_json');
    });

    it('NaN and Infinity literals are not JSON → 400 invalid_json', async () => {
      for (const literal of ['NaN', 'Infinity', '-Infinity']) {
        const body = `{"origin":"ORD","destination":"LAX","scheduled_departure":"2001-06-15T17:30","distance_miles":${literal}}`;
        const res = await request(svc.app).post('/v1/predict').set('Content-Type', 'application/json').send(body).expect(400);
        expect(res.body.error.code).toBe('invalid_json');
      }
    });

    it('a number too large to be a double, or a huge distance → 400 naming distance_miles', async () => {
      const inf = await request(svc.app)
        .post('/v1/predict')
        .set('Content-Type', 'application/json')
        .send('{"origin":"ORD","destination":"LAX","scheduled_departure":"2001-06-15T17:30","distance_miles":1e400}')
        .expect(400);
      expect(fields(inf)).toEqual(['distance_miles']);
      const huge = await post({ ...flight, distance_miles: 1e12 }).expect(400);
      expect(fields(huge)).toEqual(['distance_miles']);
      expect(huge.body.error.message).toMatch(/distance_miles/);
      const negative = await post({ ...flight, distance_miles: -5 }).expect(400);
      expect(fields(negative)).toEqual(['distance_miles']);
      // The smallest double is positive but becomes 0 miles as float32: refused, not silently zeroed.
      const denormal = await post({ ...flight, distance_miles: 5e-324 }).expect(400);
      expect(fields(denormal)).toEqual(['distance_miles']);
    });

    it('wrong types → 400 naming each field', async () => {
      const res = await post({ origin: 123, destination: ['LAX'], scheduled_departure: 20010615, distance_miles: '100' }).expect(400);
      expect(res.body.error.code).toBe('validation_error');
      expect(fields(res)).toEqual(['destination', 'distance_miles', 'origin', 'scheduled_departure']);
    });

    it('missing fields → 400 naming each', async () => {
      const res = await post({ origin: 'ORD' }).expect(400);
      expect(fields(res)).toEqual(['destination', 'scheduled_departure']);
      const notObject = await request(svc.app).post('/v1/predict').set('Content-Type', 'application/json').send('[1,2]').expect(400);
      expect(notObject.body.error.code).toBe('validation_error');
    });

    it('unknown fields (typos) → 400', async () => {
      const res = await post({ ...flight, distance: 1745 }).expect(400);
      expect(res.body.error.details[0].code).toBe('unrecognized_keys');
    });

    it('malformed or unknown airports → 400 / 422 naming the code', async () => {
      const malformed = await post({ ...flight, origin: 'OR' }).expect(400);
      expect(fields(malformed)).toEqual(['origin']);
      const unknown = await post({ ...flight, destination: 'ZZZ' }).expect(422);
      expect(unknown.body.error).toMatchObject({ code: 'unknown_airport', details: { field: 'destination', value: 'ZZZ' } });
      expect(unknown.body.error.message).toContain('ZZZ');
      const same = await post({ ...flight, destination: 'ORD' }).expect(422);
      expect(same.body.error.code).toBe('same_airport');
    });

    it.each([
      ['2001-02-30T10:00', 'no such day'],
      ['2001-06-15T24:00', 'no such hour'],
      ['2001-06-15 17:30', 'no T'],
      ['2001-06-15T17:30Z', 'has an offset'],
      ['2001-06-15T17:30+02:00', 'has an offset'],
      ['15/06/2001 17:30', 'not ISO 8601'],
      ['', 'empty'],
    ])('invalid date %s (%s) → 400 naming scheduled_departure', async (value) => {
      const res = await post({ ...flight, scheduled_departure: value }).expect(400);
      expect(fields(res)).toEqual(['scheduled_departure']);
      expect(res.body.error.details[0].message).toMatch(/ISO 8601/);
    });

    it('oversize body → 413', async () => {
      const res = await post({ ...flight, padding: 'x'.repeat(2 * 1024 * 1024) }).expect(413);
      expect(res.body.error.code).toBe('payload_too_large');
    });

    it('batch over the maximum → 400; bad instances answered in place', async () => {
      const over = await request(svc.app)
        .post('/v1/predict/batch')
        .send({ instances: Array.from({ length: MAX_BATCH_INSTANCES + 1 }, () => flight) })
        .expect(400);
      expect(over.body.error.details[0]).toMatchObject({ path: 'instances', message: expect.stringContaining(`${MAX_BATCH_INSTANCES}`) });
      const mixed = await request(svc.app)
        .post('/v1/predict/batch')
        .send({ instances: [flight, { ...flight, origin: 'XXX' }, { ...flight, scheduled_departure: 'soon' }, flight] })
        .expect(200);
      expect(mixed.body).toMatchObject({ succeeded: 2, failed: 2 });
      expect(mixed.body.predictions[1].error.code).toBe('unknown_airport');
      expect(mixed.body.predictions[2].error.details[0].path).toBe('instances.2.scheduled_departure');
      expect(mixed.body.predictions[3]).toEqual(mixed.body.predictions[0]);
    });
  });

  it('coalesces 64 concurrent requests into fewer model runs (model_batch_size)', async () => {
    // A long delay bound makes the coalescing independent of how fast the 64 connections arrive: a batch
    // leaves when 64 rows wait (full) or after 1 s, whichever is first.
    const batched = await startTestService({ predictor: flightDelayPredictor, createApp, env: { MAX_BATCH_DELAY_MS: '1000', MAX_BATCH_SIZE: '64' } });
    const server: Server = batched.app.listen(0);
    try {
      const runsBefore = await batched.metricValue('model_batch_size_rows', {}, '_count');
      const rowsBefore = await batched.metricValue('model_batch_size_rows', {}, '_sum');
      const responses = await Promise.all(
        Array.from({ length: 64 }, (_, i) =>
          request(server).post('/v1/predict').send({ ...flight, scheduled_departure: `2001-06-${String(1 + (i % 28)).padStart(2, '0')}T12:00` }),
        ),
      );
      responses.forEach((r) => expect(r.status).toBe(200));
      const runs = (await batched.metricValue('model_batch_size_rows', {}, '_count')) - runsBefore;
      const rows = (await batched.metricValue('model_batch_size_rows', {}, '_sum')) - rowsBefore;
      expect(rows).toBe(64);
      expect(runs).toBeLessThan(64 / 4);
      const metrics = await request(server).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/model_batch_size_rows_bucket\{le="1",model="flight-delay",version="\d+"\}/);
      expect(metrics.text).toMatch(/model_inference_duration_seconds_bucket\{le="0.000025",model="flight-delay"/);
      expect(metrics.text).toMatch(/predictions_total\{model="flight-delay",version="\d+"\} \d+/);
    } finally {
      server.close();
      await batched.stop();
    }
  });

  it('serves its model card with held-out metrics', async () => {
    const res = await request(svc.app).get('/v1/model').expect(200);
    expect(res.body).toMatchObject({ name: 'flight-delay', onnx_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(res.body.metrics.test.roc_auc).toBeGreaterThan(res.body.metrics.baseline.roc_auc);
    expect(res.body.features).toHaveLength(res.body.inputs[0].shape[1]);
  });
});

describe('flight-delay hot reload', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flight-models-'));
    await cp(MODEL_DIR, dir, { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A copy of the newest version as version `to` (card version rewritten). */
  async function copyVersion(to: string): Promise<void> {
    const from = await new ModelRepository(dir).newest();
    await cp(path.join(dir, from), path.join(dir, to), { recursive: true });
    const cardPath = path.join(dir, to, 'model.json');
    const card = JSON.parse(readFileSync(cardPath, 'utf8')) as Record<string, unknown>;
    await writeFile(cardPath, JSON.stringify({ ...card, version: to }));
  }

  it('loses no request while a new version is swapped in under load', async () => {
    await copyVersion('98');
    const svc = await startTestService({ predictor: flightDelayPredictor, createApp, env: { MODEL_DIR: dir, MODEL_VERSION: '1' } });
    const server: Server = svc.app.listen(0);
    try {
      const statuses: number[] = [];
      const versions = new Set<string>();
      let done = false;
      const load = (async () => {
        while (!done) {
          const wave = await Promise.all(Array.from({ length: 16 }, () => request(server).post('/v1/predict').send(flight)));
          for (const r of wave) {
            statuses.push(r.status);
            if (r.status === 200) versions.add(r.body.model.version as string);
          }
        }
      })();
      await eventually(() => statuses.length >= 32, 'requests answered before the reload');
      const reload = await request(server).post('/admin/model/reload').send({ version: '98' });
      await eventually(() => versions.has('98'), 'answers from the new version');
      done = true;
      await load;
      expect(reload.status).toBe(200);
      expect(statuses.length).toBeGreaterThan(32);
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(versions).toEqual(new Set(['1', '98']));
    } finally {
      server.close();
      await svc.stop();
    }
  });

  it('keeps the old model serving when the new model file is broken', async () => {
    await copyVersion('99');
    await writeFile(path.join(dir, '99', 'model.onnx'), Buffer.from('this is not an onnx graph'));
    const svc = await startTestService({ predictor: flightDelayPredictor, createApp, env: { MODEL_DIR: dir, MODEL_VERSION: '1' } });
    try {
      const before = await request(svc.app).post('/v1/predict').send(flight).expect(200);
      const reload = await request(svc.app).post('/admin/model/reload').send({}).expect(422);
      expect(reload.body.error.code).toBe('model_load_failed');
      expect(reload.body.error.message).toMatch(/version 99/);
      const after = await request(svc.app).post('/v1/predict').send(flight).expect(200);
      expect(after.body).toEqual(before.body);
      await request(svc.app).get('/health/ready').expect(200);
    } finally {
      await svc.stop();
    }
  });

  it('refuses to start on a broken newest version rather than serve it', async () => {
    await copyVersion('99');
    await writeFile(path.join(dir, '99', 'model.onnx'), Buffer.from('this is not an onnx graph'));
    const svc = await startTestService({ predictor: flightDelayPredictor, createApp, env: { MODEL_DIR: dir }, start: false });
    await expect(svc.runtime.start()).rejects.toMatchObject({ code: 'model_load_failed' });
    await request(svc.app).get('/health/ready').expect(503);
    await svc.stop();
  });
});

describe('flight-delay auth scopes', () => {
  const predictKey = 'fd-predict-key-000000001';
  const adminKey = 'fd-admin-key-0000000001';
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ predictor: flightDelayPredictor, createApp, env: { API_KEYS_PREDICT: predictKey, API_KEYS_ADMIN: adminKey } });
  });
  afterAll(() => svc.stop());

  it('predict scope may predict and read the card, not reload; admin may do all; health stays open', async () => {
    await request(svc.app).post('/v1/predict').send(flight).expect(401);
    await request(svc.app).post('/v1/predict').set('X-API-Key', predictKey).send(flight).expect(200);
    await request(svc.app).post('/v1/predict/batch').set('Authorization', `Bearer ${predictKey}`).send({ instances: [flight] }).expect(200);
    await request(svc.app).get('/v1/model').set('X-API-Key', predictKey).expect(200);
    await request(svc.app).post('/admin/model/reload').set('X-API-Key', predictKey).expect(403);
    await request(svc.app).get('/admin/model/versions').set('X-API-Key', predictKey).expect(403);
    const versions = await request(svc.app).get('/admin/model/versions').set('X-API-Key', adminKey).expect(200);
    expect(versions.body.versions).toContain(versions.body.serving);
    await request(svc.app).post('/admin/model/reload').set('X-API-Key', adminKey).expect(200);
    await request(svc.app).get('/health/ready').expect(200);
    await request(svc.app).get('/metrics').expect(200);
  });
});
