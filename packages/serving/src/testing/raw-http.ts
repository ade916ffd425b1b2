import type { RequestListener, Server } from 'node:http';
import net from 'node:net';
import { createHttpServer, type HttpServerOptions } from '../http/http-server';
import type { Logger } from '../logging/logger';

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/**
 * One TCP connection speaking HTTP/1.1 by hand, for what a normal client cannot send: oversize or broken
 * headers, a body that never ends, a Content-Length it never honours. Reads back what the server answers.
 */
export class RawHttpClient {
  /** Resolves when the server ends or closes the connection. */
  readonly closed: Promise<void>;
  private received = Buffer.alloc(0);
  private ended = false;
  private onChange: () => void = () => undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.onChange();
    });
    this.closed = new Promise((resolve) => {
      const done = () => {
        this.ended = true;
        this.onChange();
        resolve();
      };
      socket.once('end', done);
      socket.once('close', done);
    });
    socket.on('error', () => undefined); // a reset after the server answered is expected in these tests
  }

  /** Sends `raw` on a fresh connection; the answer, once the server has also closed the connection. */
  static async exchange(port: number, raw: string): Promise<RawResponse> {
    const client = await RawHttpClient.connect(port);
    try {
      await client.write(raw);
      const response = await client.response();
      await client.closed;
      return response;
    } finally {
      client.destroy();
    }
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawHttpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawHttpClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes and waits until the bytes are handed to the kernel; false once the connection is gone. */
  write(data: string | Buffer): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(data, (error) => resolve(!error)));
  }

  /** The next complete response (by its Content-Length, or everything up to the close). */
  response(): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      this.onChange = () => {
        const parsed = this.parse();
        if (parsed) {
          this.onChange = () => undefined;
          resolve(parsed);
        } else if (this.ended) reject(new Error(`connection closed without a complete response: ${JSON.stringify(this.received.toString('latin1'))}`));
      };
      this.onChange();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): RawResponse | undefined {
    const headEnd = this.received.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const [statusLine = '', ...lines] = this.received.subarray(0, headEnd).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
    const available = this.received.length - headEnd - 4;
    if (length === undefined ? !this.ended : available < length) return undefined;
    const end = headEnd + 4 + (length ?? available);
    const body = this.received.subarray(headEnd + 4, end).toString('utf8');
    this.received = this.received.subarray(end);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }
}

/**
 * `app` behind the real server factory (production timeouts unless overridden), listening on an ephemeral
 * loopback port.
 */
export async function listenOnLoopback(
  app: RequestListener,
  logger: Logger,
  options: Partial<HttpServerOptions> = {},
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createHttpServer(app, {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 65_000,
    logger,
    log: true,
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { server, port, close };
}
