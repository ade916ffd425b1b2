export { createRedis, reconnectDelay, RedisConnection, type RedisConfig, type RedisConnectionOptions } from './create-redis';
export { isRedisUrl, isRedisKeyPrefix, redactRedisUrl } from './redis-url';
