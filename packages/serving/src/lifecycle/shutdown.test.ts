import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogCapture } from '../testing/test-service';
import { createLogger } from '../logging/logger';
import { closeServer, registerShutdown, type ShutdownStep } from './shutdown';

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ port, path: '/', agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('closeServer', () => {
  it('stops accepting, lets in-flight requests finish, then resolves', async () => {
    let received = 0;
    let allReceived: () => void = () => undefined;
    const arrived = new Promise<void>((r) => (allReceived = r));
    const server = http.createServer((_req, res) => {
      if (++received === 3) allReceived();
      setTimeout(() => res.end('done'), 100);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const inFlight = [get(port), get(port), get(port)];
    await arrived;
    const closed = closeServer(server, 5000);
    await expect(get(port)).rejects.toThrow(/ECONNREFUSED/);
    await expect(Promise.all(inFlight)).resolves.toEqual(Array(3).fill({ status: 200, body: 'done' }));
    await expect(closed).resolves.toBeUndefined();
  });

  it('cuts connections that outlive the grace period and says so', async () => {
    let arrived: () => void = () => undefined;
    const received = new Promise<void>((r) => (arrived = r));
    const server = http.createServer(() => arrived()); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const hung = get(port).catch((e: Error) => e);
    await received;
    await expect(closeServer(server, 100)).rejects.toThrow(/did not finish within 100 ms/);
    expect(((await hung) as Error).message).toMatch(/socket hang up|ECONNRESET/);
  });
});

describe('registerShutdown', () => {
  /** A shutdown sequence with no signal handlers, recording the exit codes it asks for. */
  function sequence(steps: ShutdownStep[], timeoutMs = 1000) {
    const exits: number[] = [];
    const logger = createLogger({ service: 't', stream: new LogCapture() });
    const { shutdown } = registerShutdown({ logger, timeoutMs, signals: [], exit: (code) => exits.push(code), steps });
    return { shutdown, exits };
  }

  it('runs the steps in order once, however often it is asked, then exits 0', async () => {
    const order: string[] = [];
    const { shutdown, exits } = sequence([
      { name: 'a', run: () => void order.push('a') },
      { name: 'b', run: async () => void order.push('b') },
    ]);
    await Promise.all([shutdown('SIGTERM'), shutdown('SIGINT')]);
    expect(order).toEqual(['a', 'b']);
    expect(exits).toEqual([0]);
  });

  it('still runs later steps after one fails, and exits 1', async () => {
    let released = false;
    const { shutdown, exits } = sequence([
      { name: 'drain', run: () => Promise.reject(new Error('cut')) },
      { name: 'release', run: () => void (released = true) },
    ]);
    await shutdown('SIGTERM');
    expect(released).toBe(true);
    expect(exits).toEqual([1]);
  });

  it('exits 1 when the sequence outlives its timeout, and with the code asked for', async () => {
    const hung = sequence([{ name: 'hang', run: () => new Promise((r) => setTimeout(r, 200)) }], 50);
    await hung.shutdown('SIGTERM');
    expect(hung.exits[0]).toBe(1);
    const crash = sequence([]);
    await crash.shutdown('uncaughtException', 1);
    expect(crash.exits).toEqual([1]);
  });
});
