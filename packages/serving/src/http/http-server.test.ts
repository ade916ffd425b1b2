import { RawHttpClient, listenOnLoopback, type RawResponse } from '../testing/raw-http';
import { linearPredictor } from '../testing/linear-predictor';
import { startTestService, type TestService } from '../testing/test-service';
import { createHttpServer } from './http-server';

/** Asserts the platform's error shape, a request id shared by header and body, and `Connection: close`. */
function expectPlatformError(res: RawResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['connection']).toBe('close');
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  const body = JSON.parse(res.body) as { error: { code: string; message: string; request_id: string } };
  expect(body).toEqual({ error: { code, message: expect.any(String), request_id: res.headers['x-request-id'] } });
}

describe('createHttpServer: requests the HTTP parser refuses', () => {
  let svc: TestService;
  let http: Awaited<ReturnType<typeof listenOnLoopback>>;
  beforeAll(async () => {
    svc = await startTestService({ predictor: linearPredictor, env: { LOG_LEVEL: 'info' } });
    http = await listenOnLoopback(svc.app, svc.logger);
  });
  afterAll(async () => {
    await http.close();
    await svc.stop();
  });

  it('answers a 20 KB URL with 431 in the one error shape, logs one line and closes', async () => {
    const res = await RawHttpClient.exchange(http.port, `GET /health/live?q=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    expectPlatformError(res, 431, 'request_header_fields_too_large');
    const line = svc.logs.lines.find((l) => l['request_id'] === res.headers['x-request-id']);
    expect(line).toMatchObject({ level: 'info', status: 431, code: 'request_header_fields_too_large' });
  });

  it('answers malformed framing with 400 bad_request', async () => {
    const res = await RawHttpClient.exchange(http.port, 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nthis is not a header\r\n\r\n');
    expectPlatformError(res, 400, 'bad_request');
  });

  it('still serves a well-formed request on the same server', async () => {
    const res = await RawHttpClient.exchange(http.port, 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
  });
});

describe('createHttpServer: timeouts', () => {
  let svc: TestService;
  let http: Awaited<ReturnType<typeof listenOnLoopback>>;
  beforeAll(async () => {
    svc = await startTestService({ predictor: linearPredictor });
    http = await listenOnLoopback(svc.app, svc.logger, { headersTimeoutMs: 100, requestTimeoutMs: 200, timeoutCheckIntervalMs: 20 });
  });
  afterAll(async () => {
    await http.close();
    await svc.stop();
  });

  it('answers headers that never finish with 408 request_timeout', async () => {
    const res = await RawHttpClient.exchange(http.port, 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    expectPlatformError(res, 408, 'request_timeout');
  });

  it('answers a body that never finishes with 408 request_timeout', async () => {
    const res = await RawHttpClient.exchange(
      http.port,
      'POST /v1/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"a": 1,',
    );
    expectPlatformError(res, 408, 'request_timeout');
  });

  it('sets the timeouts it is given on the server', () => {
    const server = createHttpServer(svc.app, { headersTimeoutMs: 5, requestTimeoutMs: 6, keepAliveTimeoutMs: 7, logger: svc.logger, log: false });
    expect([server.headersTimeout, server.requestTimeout, server.keepAliveTimeout]).toEqual([5, 6, 7]);
  });
});
