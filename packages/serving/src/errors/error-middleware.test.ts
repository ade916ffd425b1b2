import express from 'express';
import request from 'supertest';
import { requestContext } from '../http/request-context';
import { createLogger } from '../logging/logger';
import { createServingMetrics, Registry } from '../metrics/metrics';
import { LogCapture } from '../testing/test-service';
import { errorMiddleware } from './error-middleware';
import { HttpError } from './http-error';
import { ServiceUnavailableError } from './service-unavailable-error';

/** An app whose one route (with an id in its path) throws what `fail` makes, behind the real error middleware. */
function appThrowing(fail: () => unknown) {
  const logs = new LogCapture();
  const logger = createLogger({ service: 'test', stream: logs });
  const app = express();
  const metrics = createServingMetrics(new Registry(), { defaultMetrics: false });
  app.use(requestContext({ logger, metrics, log: false, isDraining: () => false }));
  app.get('/v1/patients/:patient_id/risk', () => {
    throw fail();
  });
  app.use(errorMiddleware(logger));
  return { app, logs };
}

describe('errorMiddleware logging', () => {
  it('logs a 5xx with the route template and its stack, never the raw path', async () => {
    const { app, logs } = appThrowing(() => new TypeError('scoring exploded'));
    const res = await request(app).get('/v1/patients/P-77123/risk').set('X-Request-ID', 'r-500').expect(500);
    expect(res.body.error).toEqual({ code: 'internal_error', message: 'internal server error', request_id: 'r-500' });
    expect(logs.lines).toHaveLength(1);
    const line = logs.lines[0]!;
    expect(line).toMatchObject({ level: 'error', message: 'scoring exploded', request_id: 'r-500', method: 'GET', route: '/v1/patients/:patient_id/risk' });
    expect((line['error'] as { stack: string }).stack).toContain('TypeError: scoring exploded');
    expect(JSON.stringify(line)).not.toContain('P-77123');
  });

  it.each([
    ['queue_full', () => new ServiceUnavailableError('inference queue is full', 'queue_full')],
    ['inference_timeout', () => new ServiceUnavailableError('prediction did not finish within 50 ms', 'inference_timeout')],
    ['model_not_ready', () => new ServiceUnavailableError('model is not loaded', 'model_not_ready')],
    ['draining', () => new HttpError(503, 'draining', 'service is shutting down')],
  ])('logs an expected 503 (%s) as one warning without a stack', async (code, fail) => {
    const { app, logs } = appThrowing(fail);
    const res = await request(app).get('/v1/patients/P-77123/risk').expect(503);
    expect(res.body.error.code).toBe(code);
    expect(logs.lines).toHaveLength(1);
    const line = logs.lines[0]!;
    expect(line).toMatchObject({ level: 'warn', code, status: 503, route: '/v1/patients/:patient_id/risk' });
    expect(JSON.stringify(line)).not.toMatch(/stack|P-77123|\bat .*:\d+:\d+/);
  });

  it('keeps the stack of a 5xx HttpError that is our fault', async () => {
    const { app, logs } = appThrowing(() => new HttpError(502, 'upstream_failed', 'feature store failed'));
    await request(app).get('/v1/patients/P-1/risk').expect(502);
    expect(logs.lines[0]).toMatchObject({ level: 'error', error: { name: 'HttpError', code: 'upstream_failed' } });
    expect((logs.lines[0]!['error'] as { stack: string }).stack).toContain('feature store failed');
  });
});
