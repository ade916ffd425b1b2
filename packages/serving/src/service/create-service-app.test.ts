import request from 'supertest';
import { LINEAR_MODEL_DIR, linearPredictor } from '../testing/linear-predictor';
import { eventually } from '../testing/eventually';
import { startTestService, type TestService } from '../testing/test-service';
import { createServiceApp } from './create-service-app';

const PREDICT_KEY = 'predict-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789ab';

describe('service app (open, no keys)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ predictor: linearPredictor, env: { BODY_LIMIT_BYTES: '2048' } });
  });
  afterAll(() => svc.stop());

  it('predicts with the newest version of the real model: y = -a + 0.5b + 0.25c - 0.5', async () => {
    const res = await request(svc.app).post('/v1/predict').send({ a: 1, b: 2, c: 4 }).expect(200);
    expect(res.body.y).toBeCloseTo(0.5, 5);
    expect(res.body.p).toBeCloseTo(1 / (1 + Math.exp(-0.5)), 6);
    expect(res.body.model).toEqual({ name: 'linear', version: '2' });
  });

  it('echoes a given X-Request-ID and makes one otherwise', async () => {
    const given = await request(svc.app).get('/health/live').set('X-Request-ID', 'abc-123').expect(200);
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await request(svc.app).get('/health/live').set('X-Request-ID', 'bad id with spaces').expect(200);
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers wrong types and missing fields with 400 naming every field', async () => {
    const res = await request(svc.app).post('/v1/predict').set('X-Request-ID', 'r1').send({ a: 'x', c: 1 }).expect(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.request_id).toBe('r1');
    const paths = res.body.error.details.map((d: { path: string }) => d.path).sort();
    expect(paths).toEqual(['a', 'b']);
    expect(res.body.error.details[0].message).toEqual(expect.any(String));
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('rejects unknown fields (strict schema)', async () => {
    const res = await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1, d: 1 }).expect(400);
    expect(res.body.error.details[0].code).toBe('unrecognized_keys');
  });

  it('answers malformed JSON with 400, a non-JSON body with 415, an oversize one with 413', async () => {
    const bad = await request(svc.app).post('/v1/predict').set('Content-Type', 'application/json').send('{"a": 1,').expect(400);
    expect(bad.body.error.code).toBe('invalid_json');
    const text = await request(svc.app).post('/v1/predict').set('Content-Type', 'text/plain').send('a=1').expect(415);
    expect(text.body.error.code).toBe('unsupported_media_type');
    const big = await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1, pad: 'x'.repeat(4096) }).expect(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const none = await request(svc.app).post('/v1/predict').expect(400);
    expect(none.body.error.code).toBe('missing_body');
  });

  it('answers a domain rejection with 422', async () => {
    const res = await request(svc.app).post('/v1/predict').send({ a: 13, b: 1, c: 1 }).expect(422);
    expect(res.body.error).toMatchObject({ code: 'unlucky', details: { field: 'a', value: 13 } });
  });

  it('answers unknown routes with 404 and wrong methods with 405 + Allow', async () => {
    const nf = await request(svc.app).get('/v2/nothing').expect(404);
    expect(nf.body.error.code).toBe('not_found');
    const na = await request(svc.app).get('/v1/predict').expect(405);
    expect(na.headers['allow']).toBe('POST');
    expect(na.body.error.code).toBe('method_not_allowed');
  });

  it('answers a batch in order, with a bad instance reported in place', async () => {
    const res = await request(svc.app)
      .post('/v1/predict/batch')
      .send({ instances: [{ a: 1, b: 0, c: 0 }, { a: 'no' }, { a: 13, b: 0, c: 0 }, { a: 0, b: 0, c: 1 }] })
      .expect(200);
    expect(res.body.succeeded).toBe(2);
    expect(res.body.failed).toBe(2);
    expect(res.body.predictions[0].y).toBeCloseTo(-1.5, 5);
    expect(res.body.predictions[1].error.code).toBe('validation_error');
    expect(res.body.predictions[1].error.details.map((d: { path: string }) => d.path)).toContain('instances.1.a');
    expect(res.body.predictions[2].error.code).toBe('unlucky');
    expect(res.body.predictions[3].y).toBeCloseTo(-0.25, 5);
  });

  it('refuses a batch over the maximum or empty with 400', async () => {
    // 101 instances of 14 bytes each fit the 2 KiB body limit: the count, not the size, refuses them.
    const over = await request(svc.app)
      .post('/v1/predict/batch')
      .send({ instances: Array.from({ length: 101 }, () => ({ a: 0, b: 0 })) })
      .expect(400);
    expect(over.body.error.details).toEqual([expect.objectContaining({ path: 'instances', message: 'at most 100 instances per request' })]);
    const empty = await request(svc.app).post('/v1/predict/batch').send({ instances: [] }).expect(400);
    expect(empty.body.error.details[0].path).toBe('instances');
  });

  it('serves health, the model card, metrics and the OpenAPI document', async () => {
    const h = await request(svc.app).get('/health').expect(200);
    expect(h.body).toMatchObject({ status: 'ok', service: 'test', model: { name: 'linear', version: '2' } });
    await request(svc.app).get('/health/ready').expect(200);
    const card = await request(svc.app).get('/v1/model').expect(200);
    expect(card.body).toMatchObject({ name: 'linear', version: '2', weights: { b: -0.5 } });
    const metrics = await request(svc.app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/http_requests_total\{route="\/v1\/predict",method="POST",status="200"\}/);
    expect(metrics.text).toMatch(/model_info\{model="linear",version="2",sha256="[0-9a-f]{64}"\} 1/);
    expect(metrics.text).not.toMatch(/route="\/v2\/nothing"/);
    const doc = await request(svc.app).get('/openapi.json').expect(200);
    expect(doc.body.openapi).toBe('3.0.3');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/predict', '/v1/predict/batch', '/admin/model/reload']));
    const predict = doc.body.paths['/v1/predict'].post;
    expect(predict.requestBody.content['application/json'].schema.required).toEqual(['a', 'b', 'c']);
    expect(predict.requestBody.content['application/json'].example).toEqual(linearPredictor.example);
    const docs = await request(svc.app).get('/docs/').expect(200);
    expect(docs.text).toContain('swagger-ui');
  });
});

describe('service app (API keys)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({
      predictor: linearPredictor,
      env: { API_KEYS_PREDICT: PREDICT_KEY, API_KEYS_ADMIN: ADMIN_KEY, METRICS_REQUIRE_AUTH: 'true', MODEL_VERSION: '1' },
    });
  });
  afterAll(() => svc.stop());

  it('needs a key for predictions: 401 without or with a wrong one, 200 with X-API-Key or Bearer', async () => {
    const none = await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.headers['www-authenticate']).toBe('Bearer');
    await request(svc.app).post('/v1/predict').set('X-API-Key', 'predict-key-0123456780').send({ a: 1, b: 1, c: 1 }).expect(401);
    await request(svc.app).post('/v1/predict').set('X-API-Key', PREDICT_KEY).send({ a: 1, b: 1, c: 1 }).expect(200);
    await request(svc.app).post('/v1/predict').set('Authorization', `Bearer ${ADMIN_KEY}`).send({ a: 1, b: 1, c: 1 }).expect(200);
  });

  it('keeps admin routes to the admin scope: 403 for a predict key', async () => {
    const res = await request(svc.app).post('/admin/model/reload').set('X-API-Key', PREDICT_KEY).expect(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', details: { required_scope: 'admin' } });
    await request(svc.app).post('/admin/model/reload').set('X-API-Key', ADMIN_KEY).send({ version: '1' }).expect(200);
  });

  it('leaves health open and protects /metrics when asked to', async () => {
    await request(svc.app).get('/health/ready').expect(200);
    await request(svc.app).get('/health').expect(200);
    await request(svc.app).get('/metrics').expect(401);
    await request(svc.app).get('/metrics').set('X-API-Key', PREDICT_KEY).expect(200);
  });
});

describe('service app (backpressure and timeouts)', () => {
  it('answers 503 queue_full with Retry-After once the bounded queue is full, and serves the rest', async () => {
    // Rows wait 300 ms for company, so a third request meets a queue of two. Batches take at most 2 here.
    const small = { ...linearPredictor, maxBatchInstances: 2 };
    const svc = await startTestService({ predictor: small, env: { MAX_QUEUE_ROWS: '2', MAX_BATCH_DELAY_MS: '300' } });
    const server = svc.app.listen(0);
    try {
      const first = request(server).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).then((res) => res);
      await eventually(async () => (await svc.metricValue('model_queue_depth')) === 1, 'one queued row');
      // A batch is admitted or refused whole, as soon as its size is known.
      const batch = await request(server).post('/v1/predict/batch').send({ instances: [{ a: 1, b: 1, c: 1 }, { a: 1, b: 1, c: 1 }] }).expect(503);
      expect(batch.body.error.code).toBe('queue_full');
      expect(batch.headers['retry-after']).toBe('1');
      const second = request(server).post('/v1/predict').send({ a: 2, b: 1, c: 1 }).then((res) => res);
      await eventually(async () => (await svc.metricValue('model_queue_depth')) === 2, 'two queued rows');
      const refused = await request(server).post('/v1/predict').send({ a: 3, b: 1, c: 1 }).expect(503);
      expect(refused.body.error.code).toBe('queue_full');
      expect((await Promise.all([first, second])).map((r) => r.status)).toEqual([200, 200]);
      expect(await svc.metricValue('model_queue_rejections_total', { reason: 'queue_full' })).toBe(2);
      expect(await svc.metricValue('model_queue_depth')).toBe(0);
    } finally {
      server.close();
      await svc.stop();
    }
  });

  it('refuses to start when the queue cannot hold the largest batch a route accepts', async () => {
    await expect(startTestService({ predictor: linearPredictor, env: { MAX_QUEUE_ROWS: '99' } })).rejects.toThrow(/holds 99 rows.*100 instances/);
    // 12 bytes a row (3 float32): 1,024 bytes hold 85 rows, fewer than 100.
    await expect(startTestService({ predictor: linearPredictor, env: { MAX_QUEUE_BYTES: '1024' } })).rejects.toThrow(/holds 85 rows/);
  });

  it('answers 503 inference_timeout when a row waits longer than REQUEST_TIMEOUT_MS', async () => {
    const svc = await startTestService({ predictor: linearPredictor, env: { REQUEST_TIMEOUT_MS: '50', MAX_BATCH_DELAY_MS: '1000' } });
    try {
      const res = await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(503);
      expect(res.body.error.code).toBe('inference_timeout');
      expect(res.headers['retry-after']).toBe('1');
    } finally {
      await svc.stop();
    }
  });
});

describe('service app (CORS, readiness, 5xx)', () => {
  it('sends CORS headers only to allowed origins', async () => {
    const svc = await startTestService({ predictor: linearPredictor, env: { CORS_ORIGINS: 'https://app.example.com' } });
    try {
      const ok = await request(svc.app).options('/v1/predict').set('Origin', 'https://app.example.com').set('Access-Control-Request-Method', 'POST');
      expect(ok.headers['access-control-allow-origin']).toBe('https://app.example.com');
      const no = await request(svc.app).options('/v1/predict').set('Origin', 'https://evil.example.com').set('Access-Control-Request-Method', 'POST');
      expect(no.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await svc.stop();
    }
  });

  it('is not ready until the model is loaded, nor while draining', async () => {
    const svc = await startTestService({ predictor: linearPredictor, start: false });
    await request(svc.app).get('/health/live').expect(200);
    const before = await request(svc.app).get('/health/ready').expect(503);
    expect(before.body.status).toBe('starting');
    const predict = await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(503);
    expect(predict.body.error.code).toBe('model_not_ready');
    expect(predict.headers['retry-after']).toBe('1');
    await svc.runtime.start();
    await request(svc.app).get('/health/ready').expect(200);
    svc.state.startDraining();
    const draining = await request(svc.app).get('/health/ready').expect(503);
    expect(draining.body.status).toBe('draining');
    await svc.stop();
  });

  it('answers an unexpected failure with a bare 500 and logs it with its stack', async () => {
    const broken = {
      ...linearPredictor,
      toOutput: (row: Parameters<typeof linearPredictor.toOutput>[0], input: { a: number; b: number; c: number }) => {
        if (input.a === 7) throw new TypeError('toOutput exploded');
        return linearPredictor.toOutput(row, input, {});
      },
    };
    const svc = await startTestService({ predictor: broken });
    try {
      const res = await request(svc.app).post('/v1/predict').set('X-Request-ID', 'boom-1').send({ a: 7, b: 1, c: 1 }).expect(500);
      expect(res.body).toEqual({ error: { code: 'internal_error', message: 'internal server error', request_id: 'boom-1' } });
      const logged = svc.logs.lines.find((l) => l['request_id'] === 'boom-1');
      expect(logged).toMatchObject({ level: 'error', message: 'toOutput exploded' });
      expect((logged?.['error'] as { stack: string }).stack).toContain('TypeError: toOutput exploded');
      await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(200);
    } finally {
      await svc.stop();
    }
  });
});

describe('service app (edge rules)', () => {
  it('refuses unknown keys in the batch envelope, as a single prediction does', async () => {
    const svc = await startTestService({ predictor: linearPredictor });
    try {
      const res = await request(svc.app).post('/v1/predict/batch').send({ instances: [{ a: 1, b: 1, c: 1 }], foo: 1 }).expect(400);
      expect(res.body.error.details).toEqual([expect.objectContaining({ code: 'unrecognized_keys' })]);
      await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1, foo: 1 }).expect(400);
    } finally {
      await svc.stop();
    }
  });

  it('answers a reload of a missing version with 422 and no server path in the answer', async () => {
    const svc = await startTestService({ predictor: linearPredictor });
    try {
      const res = await request(svc.app).post('/admin/model/reload').send({ version: '7' }).expect(422);
      expect(res.body.error).toMatchObject({ code: 'model_load_failed', message: expect.stringContaining('model version 7 cannot be read') });
      expect(JSON.stringify(res.body)).not.toContain(LINEAR_MODEL_DIR);
      expect(JSON.stringify(res.body)).not.toMatch(/\/(work|tmp|home|srv|app)\//);
    } finally {
      await svc.stop();
    }
  });

  it('names the caller of each request by its key id in the access log, never the key', async () => {
    const svc = await startTestService({
      predictor: linearPredictor,
      env: { API_KEYS_ADMIN: `ops:${ADMIN_KEY}`, API_KEYS_PREDICT: PREDICT_KEY, ACCESS_LOG: 'true', LOG_LEVEL: 'info' },
    });
    try {
      await request(svc.app).post('/v1/predict').set('X-API-Key', ADMIN_KEY).set('X-Request-ID', 'by-ops').send({ a: 1, b: 1, c: 1 }).expect(200);
      await request(svc.app).post('/v1/predict').set('X-API-Key', PREDICT_KEY).set('X-Request-ID', 'by-bare').send({ a: 1, b: 1, c: 1 }).expect(200);
      // 'ops:<key>' configures the key itself, not 'ops:<key>'.
      await request(svc.app).post('/v1/predict').set('X-API-Key', `ops:${ADMIN_KEY}`).expect(401);
      const line = (id: string) => svc.logs.lines.find((l) => l['message'] === 'request' && l['request_id'] === id);
      expect(line('by-ops')).toMatchObject({ caller: 'ops' });
      expect(line('by-bare')?.['caller']).toMatch(/^key-[0-9a-f]{8}$/);
      const all = JSON.stringify(svc.logs.lines);
      expect(all).not.toContain(ADMIN_KEY);
      expect(all).not.toContain(PREDICT_KEY);
    } finally {
      await svc.stop();
    }
  });

  it('keeps the API description open when keys are set (it holds no data; DOCS_ENABLED=false hides it)', async () => {
    const svc = await startTestService({ predictor: linearPredictor, env: { API_KEYS_PREDICT: PREDICT_KEY } });
    try {
      await request(svc.app).get('/openapi.json').expect(200);
      await request(svc.app).get('/docs/').expect(200);
      await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(401);
    } finally {
      await svc.stop();
    }
    const hidden = await startTestService({ predictor: linearPredictor, env: { DOCS_ENABLED: 'false' } });
    try {
      await request(hidden.app).get('/openapi.json').expect(404);
    } finally {
      await hidden.stop();
    }
  });

  it('leaves the prediction routes to a service that says predictPath: false, and runs the start/stop of its parts', async () => {
    const events: string[] = [];
    const svc = await startTestService({
      predictor: linearPredictor,
      parts: () => ({
        createApp: (deps) => createServiceApp(deps, { predictPath: false }),
        start: () => events.push('start'),
        stopSteps: [{ name: 'probe', run: async () => void events.push('stop') }],
      }),
    });
    try {
      expect(events).toEqual(['start']);
      await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(404);
      await request(svc.app).post('/v1/predict/batch').send({ instances: [] }).expect(404);
      expect((await request(svc.app).get('/openapi.json').expect(200)).body.paths['/v1/predict']).toBeUndefined();
    } finally {
      await svc.stop();
    }
    expect(events).toEqual(['start', 'stop']);
  });
});
