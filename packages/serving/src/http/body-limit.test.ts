import { RawHttpClient, listenOnLoopback } from '../testing/raw-http';
import { linearPredictor } from '../testing/linear-predictor';
import { startTestService, type TestService } from '../testing/test-service';

const LIMIT = 2048;
const head = (framing: string) => `POST /v1/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`;
const chunk = (data: string) => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;

describe('body limit on a real server', () => {
  let svc: TestService;
  let http: Awaited<ReturnType<typeof listenOnLoopback>>;
  beforeAll(async () => {
    svc = await startTestService({ predictor: linearPredictor, env: { BODY_LIMIT_BYTES: String(LIMIT) } });
    http = await listenOnLoopback(svc.app, svc.logger);
  });
  afterAll(async () => {
    await http.close();
    await svc.stop();
  });

  it('answers an oversize Content-Length with 413 before a byte of the body is sent, and closes', async () => {
    const client = await RawHttpClient.connect(http.port);
    await client.write(head('Content-Length: 2000000'));
    const res = await client.response();
    expect(res.status).toBe(413);
    expect(res.headers['connection']).toBe('close');
    expect(JSON.parse(res.body).error).toEqual({
      code: 'payload_too_large',
      message: `request body exceeds the limit of ${LIMIT} bytes`,
      details: { limit_bytes: LIMIT },
      request_id: res.headers['x-request-id'],
    });
    await client.closed;
  });

  it('answers a chunked body with 413 as soon as it passes the limit, while the client is still sending', async () => {
    const client = await RawHttpClient.connect(http.port);
    await client.write(head('Transfer-Encoding: chunked'));
    await client.write(chunk(`{"a": 1, "b": 2, "c": 3, "pad": "${'x'.repeat(LIMIT)}`)); // no end: more could follow
    const res = await client.response();
    expect(res.status).toBe(413);
    expect(res.headers['connection']).toBe('close');
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
    await client.closed;
  });

  it('stops reading a streamed body past the limit: the client cannot push 32 MB through', async () => {
    const total = 32 * 1024 * 1024;
    const piece = chunk('x'.repeat(64 * 1024));
    const client = await RawHttpClient.connect(http.port);
    let sent = 0;
    let open = await client.write(head('Transfer-Encoding: chunked'));
    while (open && sent < total) {
      open = await client.write(piece);
      if (open) sent += 64 * 1024;
    }
    client.destroy();
    expect(sent).toBeLessThan(total);
  });

  it('still takes a body within the limit, chunked or not', async () => {
    const body = '{"a": 1, "b": 2, "c": 4}';
    const plain = await RawHttpClient.exchange(http.port, `${head(`Content-Length: ${body.length}\r\nConnection: close`)}${body}`);
    expect(plain.status).toBe(200);
    const chunked = await RawHttpClient.exchange(http.port, `${head('Transfer-Encoding: chunked\r\nConnection: close')}${chunk(body)}0\r\n\r\n`);
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.body).y).toBeCloseTo(0.5, 5);
  });
});
