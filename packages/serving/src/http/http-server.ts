import http, { type RequestListener } from 'node:http';
import type { Logger } from 'winston';
import { clientErrorHandler } from './client-error';

export interface HttpServerOptions {
  /** Longest a client may take to send the request headers (then 408). */
  headersTimeoutMs: number;
  /** Longest a client may take to send the whole request, body included (then 408); ≥ headersTimeoutMs. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections close after this. */
  keepAliveTimeoutMs: number;
  /** How often the two timeouts above are checked (Node's own default is 30 s, which would stretch them). */
  timeoutCheckIntervalMs?: number;
  logger: Logger;
  /** Log one line per request the HTTP parser refused (as the access log does for the rest). */
  log: boolean;
}

/**
 * The HTTP server in front of a service's app: timeouts set deliberately, so a slow client cannot hold a
 * connection for minutes, and requests Node's parser refuses (oversize headers, broken framing, timeouts)
 * answered in the platform's one error shape with an X-Request-ID. Not yet listening.
 */
export function createHttpServer(handler: RequestListener, options: HttpServerOptions): http.Server {
  const server = http.createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: options.timeoutCheckIntervalMs ?? Math.min(1000, options.headersTimeoutMs),
    },
    handler,
  );
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.on('clientError', clientErrorHandler({ logger: options.logger, log: options.log }));
  return server;
}

/**
 * The HTTP server of a process from the serving variables (timeouts, access log), listening on HOST:PORT;
 * resolves once it listens and has logged where.
 */
export async function listenFromConfig(
  handler: RequestListener,
  config: { PORT: number; HOST: string; HTTP_HEADERS_TIMEOUT_MS: number; HTTP_REQUEST_TIMEOUT_MS: number; HTTP_KEEP_ALIVE_TIMEOUT_MS: number; ACCESS_LOG: boolean },
  logger: HttpServerOptions['logger'],
): Promise<http.Server> {
  const server = createHttpServer(handler, {
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    logger,
    log: config.ACCESS_LOG,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    server.listen(config.PORT, config.HOST);
  });
  const address = server.address();
  logger.info('listening', { host: config.HOST, port: typeof address === 'object' && address ? address.port : config.PORT });
  return server;
}
