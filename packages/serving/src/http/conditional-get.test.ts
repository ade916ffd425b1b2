import request from 'supertest';
import { linearPredictor } from '../testing/linear-predictor';
import { startTestService, type TestService } from '../testing/test-service';

describe('conditional GETs on the JSON routes', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ predictor: linearPredictor });
  });
  afterAll(() => svc.stop());

  it.each(['/health/ready', '/health', '/health/live', '/v1/model', '/openapi.json'])('answers %s in full, never 304', async (path) => {
    for (const conditions of [{ 'If-None-Match': '*' }, { 'If-None-Match': 'W/"x"', 'If-Modified-Since': new Date(Date.now() + 86_400_000).toUTCString() }]) {
      const res = await request(svc.app).get(path).set(conditions).expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(res.body).length).toBeGreaterThan(0);
    }
  });
});
