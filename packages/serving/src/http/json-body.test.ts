import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { RawHttpClient, listenOnLoopback } from '../testing/raw-http';
import { linearPredictor } from '../testing/linear-predictor';
import { startTestService, type TestService } from '../testing/test-service';

const body = '{"a": 1, "b": 2, "c": 4}';

describe('jsonBody: UTF-8 JSON only', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ predictor: linearPredictor });
  });
  afterAll(() => svc.stop());

  /** Posts the bytes as they are (superagent would otherwise JSON-encode a Buffer). */
  const post = (contentType: string, payload: Buffer | string, headers: Record<string, string> = {}) =>
    request(svc.app)
      .post('/v1/predict')
      .set({ 'Content-Type': contentType, ...headers })
      .serialize((bytes: Buffer) => bytes as unknown as string)
      .send(Buffer.from(payload));

  it.each(['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF8', 'application/json; charset="UTF-8"'])(
    'takes %s',
    async (type) => {
      const res = await post(type, body).expect(200);
      expect(res.body.y).toBeCloseTo(0.5, 5);
    },
  );

  it.each([
    ['utf-7', Buffer.from('+AHsAIg-a+ACIAOg- 1, +ACI-b+ACIAOg- 2, +ACI-c+ACIAOg- 4+AH0-', 'latin1')],
    ['utf-16le', Buffer.from(body, 'utf16le')],
    ['UTF-16', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')])],
    ['utf-32', Buffer.from(body)],
  ])('refuses charset=%s with 415 naming the charset', async (charset, payload) => {
    const res = await post(`application/json; charset=${charset}`, payload).expect(415);
    expect(res.body.error).toMatchObject({ code: 'unsupported_media_type', details: { charset: charset.toLowerCase() } });
    expect(res.body.error.message).toContain(charset.toLowerCase());
  });

  it('refuses UTF-16 bytes sent without a charset instead of guessing', async () => {
    const res = await post('application/json', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')])).expect(400);
    expect(res.body.error.code).toBe('invalid_json');
  });

  it('refuses bytes that are not UTF-8 with 400 invalid_json', async () => {
    const res = await post('application/json', Buffer.from([...Buffer.from('{"a": 1, "b": 2, "c": 4, "'), 0xff, ...Buffer.from('": 1}')])).expect(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_json', message: expect.stringMatching(/UTF-8/) });
  });

  it('takes a gzip-encoded body and refuses an unknown encoding with 415', async () => {
    const gz = await post('application/json', gzipSync(body), { 'Content-Encoding': 'gzip' }).expect(200);
    expect(gz.body.y).toBeCloseTo(0.5, 5);
    const unknown = await post('application/json', body, { 'Content-Encoding': 'x-rot13' }).expect(415);
    expect(unknown.body.error.code).toBe('unsupported_encoding');
  });

  it('answers a scalar and trailing garbage with 400 invalid_json', async () => {
    expect((await post('application/json', '42').expect(400)).body.error.code).toBe('invalid_json');
    expect((await post('application/json', '{"a": 1} x').expect(400)).body.error.code).toBe('invalid_json');
  });

  it('answers an empty chunked body with 400 missing_body', async () => {
    const http = await listenOnLoopback(svc.app, svc.logger);
    try {
      const res = await RawHttpClient.exchange(
        http.port,
        'POST /v1/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
      );
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe('missing_body');
    } finally {
      await http.close();
    }
  });
});
