/** Whether `value` is a URL the Redis connection takes: `redis://` or `rediss://` (TLS), a host, optionally a db number. */
export function isRedisUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '' && /^\/?(\d+)?$/.test(url.pathname);
}

/** The URL as it may be logged: the password replaced, user, host, port and db kept. */
export function redactRedisUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '[unparseable REDIS_URL]';
  }
}

/**
 * A key prefix: no spaces or control characters and at most one non-empty `{hash tag}`, so every key under
 * a prefix such as `{predict}:` lands in one Redis Cluster slot.
 */
export function isRedisKeyPrefix(value: string): boolean {
  return value.length <= 128 && /^[^\s{}]*(\{[^\s{}]+\}[^\s{}]*)?$/.test(value);
}
