import { LogCapture } from '../testing/test-service';
import { createLogger } from './logger';

describe('createLogger', () => {
  it('writes JSON lines with timestamp, level, service and the fields given', () => {
    const out = new LogCapture();
    const logger = createLogger({ service: 'svc', level: 'info', stream: out });
    logger.info('hello', { request_id: 'r-1', status: 200 });
    logger.debug('hidden below the level');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatchObject({ level: 'info', message: 'hello', service: 'svc', request_id: 'r-1', status: 200 });
    expect(Date.parse(out.lines[0]!['timestamp'] as string)).not.toBeNaN();
  });

  it('redacts secrets at any depth and survives values JSON.stringify refuses', () => {
    const out = new LogCapture();
    const logger = createLogger({ service: 'svc', stream: out });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    logger.warn('secrets', { authorization: 'Bearer abc', headers: { 'x-api-key': 'k-123', accept: 'json' }, big: BigInt(7), cyclic });
    const line = JSON.stringify(out.lines[0]);
    expect(line).not.toContain('abc');
    expect(line).not.toContain('k-123');
    expect(out.lines[0]).toMatchObject({ authorization: '[redacted]', headers: { 'x-api-key': '[redacted]', accept: 'json' } });
  });
});
