import { Redis } from 'ioredis';
import type { ServingEnv } from '../config/serving-config';
import type { ReadinessCheck } from '../health/health';
import type { Logger } from '../logging/logger';
import { redactRedisUrl } from './redis-url';

export type RedisConfig = { REDIS_URL: string } & Pick<ServingEnv, 'REDIS_KEY_PREFIX'>;

export interface RedisConnectionOptions {
  /** What the connection is for (`prediction-log`, `feature-store`, `queue`, `worker`): in every log line and in CLIENT LIST. */
  role: string;
  /** The service's name, put before the role in the connection name (`CLIENT SETNAME flight-delay:prediction-log`). */
  service?: string;
  /**
   * How many reconnections a command waits through before it fails (ioredis `maxRetriesPerRequest`). Default 1:
   * fail fast. A BullMQ Worker needs `null` (wait for ever): its blocking commands must survive an outage.
   */
  maxRetriesPerRequest?: number | null;
  /**
   * Queue commands issued while disconnected until the connection returns (ioredis `enableOfflineQueue`).
   * Default false: a command fails at once, so a request path never waits for an absent Redis. A BullMQ Worker
   * needs true.
   */
  enableOfflineQueue?: boolean;
  /** A command that has not answered after this long fails (ioredis `commandTimeout`); unset: no bound. Never set it for blocking commands. */
  commandTimeoutMs?: number;
  /** Longest wait between reconnection attempts; attempts never stop until stop(). Default 2000 ms. */
  maxReconnectDelayMs?: number;
  /** Bound on one connection attempt (ioredis `connectTimeout`). Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** Reconnection delay after the `attempt`-th failure: 50 ms doubling, capped, with up to 10% jitter so replicas spread out. */
export function reconnectDelay(attempt: number, maxMs: number): number {
  const base = Math.min(maxMs, 50 * 2 ** Math.min(attempt - 1, 16));
  return Math.round(base * (1 + Math.random() * 0.1));
}

/**
 * One Redis connection of the process (ioredis). Created disconnected (`lazyConnect`); `start()` connects in
 * the background and never fails the caller: while Redis is absent the connection keeps reconnecting with a
 * capped backoff, commands fail fast (no offline queue, by default), and the outage is logged once when it
 * begins and once when it ends (no line per attempt). `stop()` quits (bounded) and stops reconnecting.
 * Keys are built with `key()`, from REDIS_KEY_PREFIX; ioredis' own `keyPrefix` is not used, because BullMQ
 * refuses it (it takes its own `prefix`).
 */
export class RedisConnection {
  readonly client: Redis;
  readonly prefix: string;
  readonly role: string;
  private readonly logger: Logger;
  private outageSince: number | undefined;
  private stopped = false;

  constructor(config: RedisConfig, logger: Logger, options: RedisConnectionOptions) {
    this.prefix = config.REDIS_KEY_PREFIX;
    this.role = options.role;
    this.logger = logger.child({ component: 'redis', role: options.role });
    const maxDelay = options.maxReconnectDelayMs ?? 2000;
    // The URL carries host, port, user, password, db and TLS (rediss:); the options below never override them.
    this.client = new Redis(config.REDIS_URL, {
      lazyConnect: true,
      connectionName: options.service ? `${options.service}:${options.role}` : options.role,
      maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 1 : options.maxRetriesPerRequest,
      enableOfflineQueue: options.enableOfflineQueue ?? false,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      // A socket told to close that has not closed after this is destroyed: shutdown stays short.
      disconnectTimeout: 500,
      ...(options.commandTimeoutMs === undefined ? {} : { commandTimeout: options.commandTimeoutMs }),
      retryStrategy: (attempt) => reconnectDelay(attempt, maxDelay),
    });
    const where = redactRedisUrl(config.REDIS_URL);
    // Without an `error` listener ioredis prints every failed attempt to stderr. An outage is one line when the
    // first reconnection is scheduled (a lost connection may close without an error), naming the last error seen.
    let lastError: string | undefined;
    this.client.on('error', (error: Error) => {
      lastError = error.message;
    });
    this.client.on('reconnecting', () => {
      if (this.outageSince !== undefined || this.stopped) return;
      this.outageSince = Date.now();
      this.logger.warn('redis unavailable; reconnecting in the background', { redis: where, error: lastError ?? 'connection closed' });
    });
    this.client.on('ready', () => {
      if (this.outageSince === undefined) {
        this.logger.info('redis connected', { redis: where });
        return;
      }
      this.logger.info('redis available again', { redis: where, outage_ms: Date.now() - this.outageSince });
      this.outageSince = undefined;
      lastError = undefined;
    });
  }

  /** The key `<prefix><parts joined by ':'>`. */
  key(...parts: string[]): string {
    return `${this.prefix}${parts.join(':')}`;
  }

  /** Connected and past the ready check: commands can be sent. Cheap (no round trip): fit for every probe. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Starts connecting; resolves at once. A first failure is the start of an outage, not an error. */
  start(): void {
    if (this.client.status === 'wait') this.client.connect().catch(() => undefined);
  }

  /** QUIT when connected, then close the socket and stop reconnecting; resolves once closed (bounded by `timeoutMs`). */
  async stop(timeoutMs = 1000): Promise<void> {
    this.stopped = true;
    const client = this.client;
    if (client.status === 'end') return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    const ended = new Promise<void>((resolve) => client.once('end', resolve));
    if (this.ready) await Promise.race([client.quit().then(() => undefined, () => undefined), bound]);
    // After QUIT's reply the socket closes by itself; disconnect() makes sure of it and cancels any reconnect timer.
    // Between attempts ('reconnecting') there is no socket: cancelling the timer is the end, and no 'end' event comes.
    const socketOpen = client.status === 'connecting' || client.status === 'connect' || client.status === 'ready';
    client.disconnect();
    if (socketOpen) await Promise.race([ended, bound]);
    clearTimeout(timer);
  }

  /** The `redis` entry of /health: non-critical, so readiness stays green while Redis is away (`degraded`). */
  readiness(name = 'redis'): ReadinessCheck {
    return { name, critical: false, check: () => this.ready };
  }
}

/** The one Redis connection factory of the core; see RedisConnectionOptions for the per-role settings. */
export function createRedis(config: RedisConfig, logger: Logger, options: RedisConnectionOptions): RedisConnection {
  return new RedisConnection(config, logger, options);
}
