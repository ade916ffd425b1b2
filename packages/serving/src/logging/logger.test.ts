import { HttpError } from '../errors/http-error';
import { LogCapture } from '../testing/test-service';
import { createLogger, type LoggerOptions } from './logger';

/** Logs one warn line with `meta` and returns it parsed, and as the raw JSON text. */
function logOnce(meta: Record<string, unknown>, options: Partial<LoggerOptions> = {}) {
  const out = new LogCapture();
  const logger = createLogger({ service: 'svc', stream: out, ...options });
  logger.warn('line', meta);
  expect(out.lines).toHaveLength(1);
  const line = out.lines[0]!;
  return { line, text: JSON.stringify(line) };
}

describe('createLogger', () => {
  it('writes JSON lines with timestamp, level, service and the fields given', () => {
    const out = new LogCapture();
    const logger = createLogger({ service: 'svc', level: 'info', stream: out });
    logger.info('hello', { request_id: 'r-1', status: 200 });
    logger.debug('hidden below the level');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toEqual({
      level: 'info',
      message: 'hello',
      service: 'svc',
      request_id: 'r-1',
      status: 200,
      timestamp: expect.any(String),
    });
    expect(Date.parse(out.lines[0]!['timestamp'] as string)).not.toBeNaN();
  });

  it('redacts secrets at any depth and survives values JSON.stringify refuses', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    const { line, text } = logOnce({ authorization: 'Bearer abc', headers: { 'x-api-key': 'k-123', accept: 'json' }, big: BigInt(7), cyclic });
    expect(text).not.toContain('abc');
    expect(text).not.toContain('k-123');
    expect(line).toMatchObject({
      authorization: '[REDACTED]',
      headers: { 'x-api-key': '[REDACTED]', accept: 'json' },
      big: '7',
      cyclic: { name: 'loop', self: '[Circular]' },
    });
  });

  it('matches secret keys by pattern, case-insensitively, however deep they sit', () => {
    const deep = { a: { b: { c: { d: { e: { token: 'tok-deep-5' } } } } } };
    const { line, text } = logOnce({
      access_token: 'tok-access',
      refreshToken: 'tok-refresh',
      'X-API-Key': 'tok-header',
      client_secret: 'tok-secret',
      Password: 'tok-password',
      'set-cookie': ['tok-cookie'],
      request: { headers: { Authorization: 'Bearer tok-bearer', Cookie: 'sid=tok-sid' } },
      deep,
      status: 200,
    });
    expect(text).not.toMatch(/tok-/);
    expect(line).toMatchObject({ access_token: '[REDACTED]', 'X-API-Key': '[REDACTED]', status: 200 });
    expect(line['deep']).toEqual({ a: { b: { c: { d: { e: { token: '[REDACTED]' } } } } } });
  });

  it('truncates past the depth limit with a marker instead of passing it through', () => {
    let nested: Record<string, unknown> = { leaf: 'leaf-value-past-the-limit' };
    for (let i = 0; i < 20; i++) nested = { next: nested };
    const { text } = logOnce({ nested });
    expect(text).toContain('[Truncated]');
    expect(text).not.toContain('leaf-value-past-the-limit');
  });

  it('never logs the fields a service declares, at any depth', () => {
    const { line, text } = logOnce(
      { patient_id: 'P-0001', body: { instances: [{ Patient_ID: 'P-0002', features: [0.1, 0.2], age: 70 }] } },
      { redactFields: ['patient_id', 'features'] },
    );
    expect(text).not.toMatch(/P-000/);
    expect(line).toMatchObject({ patient_id: '[REDACTED]', body: { instances: [{ Patient_ID: '[REDACTED]', features: '[REDACTED]', age: 70 }] } });
  });

  it('serializes errors with name, message, stack, code, details and cause', () => {
    const cause = Object.assign(new Error('socket closed'), { code: 'ECONNRESET' });
    const error = new HttpError(502, 'upstream_failed', 'feature store failed', { details: { store: 'redis' }, cause });
    const { line } = logOnce({ error });
    expect(line['error']).toEqual({
      name: 'HttpError',
      message: 'feature store failed',
      stack: expect.stringContaining('HttpError: feature store failed'),
      code: 'upstream_failed',
      details: { store: 'redis' },
      cause: { name: 'Error', message: 'socket closed', stack: expect.stringContaining('socket closed'), code: 'ECONNRESET' },
    });
  });

  it('writes Dates as ISO strings, Maps as objects, Sets as arrays, URLs as strings', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const { line } = logOnce({
      at,
      counts: new Map<string, unknown>([['ok', 3], ['api_key', 'k-map']]),
      tags: new Set(['a', 'b']),
      url: new URL('https://example.com/x'),
    });
    expect(line).toMatchObject({
      at: '2026-01-02T03:04:05.678Z',
      counts: { ok: 3, api_key: '[REDACTED]' },
      tags: ['a', 'b'],
      url: 'https://example.com/x',
    });
  });

  it('summarizes typed arrays and buffers instead of writing every element', () => {
    const { line, text } = logOnce({ tensor: new Float32Array(5000), raw: Buffer.alloc(10_000), ab: new ArrayBuffer(64) });
    expect(line).toMatchObject({ tensor: '[Float32Array length=5000]', raw: '[Buffer length=10000]', ab: '[ArrayBuffer byteLength=64]' });
    expect(text.length).toBeLessThan(400);
  });
});
