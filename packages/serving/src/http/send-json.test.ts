import express from 'express';
import request from 'supertest';
import { linearPredictor } from '../testing/linear-predictor';
import { startTestService, type TestService } from '../testing/test-service';
import { sendJson } from './send-json';

const bodies: Record<string, unknown> = {
  ascii: { risk_score: 0.25, top_factors: [{ feature: 'age_years', value: null, contribution: -0.5 }], model: { name: 'm', version: '1' } },
  multibyte: { label: 'Bus — 公共汽车 🚌', note: 'ü\u2028' },
  array: [1, 'two', { three: 3 }],
};

describe('sendJson', () => {
  const app = express();
  app.set('etag', false);
  app.get('/express/:name', (req, res) => {
    res.json(bodies[req.params.name]);
  });
  app.get('/lean/:name', (req, res) => {
    sendJson(res, bodies[req.params.name]);
  });

  /** The answer with its body as the bytes sent. */
  const raw = (path: string) =>
    request(app)
      .get(path)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });

  it.each(Object.keys(bodies))('answers %s with the bytes and headers res.json gives', async (name) => {
    const viaExpress = await raw(`/express/${name}`);
    const lean = await raw(`/lean/${name}`);
    expect(lean.status).toBe(200);
    expect(lean.headers['content-type']).toBe(viaExpress.headers['content-type']);
    expect(lean.headers['content-length']).toBe(viaExpress.headers['content-length']);
    expect((lean.body as Buffer).equals(viaExpress.body as Buffer)).toBe(true);
    expect(JSON.parse((lean.body as Buffer).toString('utf8'))).toEqual(bodies[name]);
  });
});

describe('the prediction routes answer through sendJson', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ predictor: linearPredictor });
  });
  afterAll(() => svc.stop());

  it('single and batch answers carry the JSON headers, the request id and an exact Content-Length', async () => {
    const one = await request(svc.app).post('/v1/predict').send({ a: 1, b: 2, c: 3 }).expect(200);
    const many = await request(svc.app).post('/v1/predict/batch').send({ instances: [{ a: 1, b: 2, c: 3 }, { a: 'bad', b: 2, c: 3 }] }).expect(200);
    for (const res of [one, many]) {
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
      expect(res.headers['x-request-id']).toMatch(/./);
    }
    expect(many.body).toMatchObject({ succeeded: 1, failed: 1 });
  });
});
