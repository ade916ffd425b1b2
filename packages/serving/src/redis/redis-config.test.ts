import { ConfigError } from '../config/config-error';
import { loadServingConfig } from '../config/serving-config';
import { redactRedisUrl } from './redis-url';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadServingConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return { problems: error.problems, message: error.message };
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('Redis and prediction-log variables', () => {
  it('default to no Redis and the log off', () => {
    const config = loadServingConfig({});
    expect(config.REDIS_URL).toBeUndefined();
    expect(config).toMatchObject({
      REDIS_KEY_PREFIX: 'predict:',
      PREDICTION_LOG: 'off',
      PREDICTION_LOG_MAXLEN: 100_000,
      PREDICTION_LOG_BUFFER: 10_000,
      PREDICTION_LOG_BATCH: 100,
    });
  });

  it('take redis:// and rediss:// URLs, with password and db', () => {
    expect(loadServingConfig({ REDIS_URL: 'rediss://user:pw@cache.internal:6380/2', PREDICTION_LOG: 'on' })).toMatchObject({
      REDIS_URL: 'rediss://user:pw@cache.internal:6380/2',
      PREDICTION_LOG: 'on',
    });
  });

  it('refuse PREDICTION_LOG=on without REDIS_URL, naming both', () => {
    const { problems } = problemsOf({ PREDICTION_LOG: 'on' });
    expect(problems).toEqual([{ variable: 'PREDICTION_LOG', reason: expect.stringContaining('REDIS_URL') }]);
  });

  it('refuse a URL that is not redis:// or rediss:// without echoing it (it may hold a password)', () => {
    for (const url of ['http://:hunter2-secret@cache:6379', 'cache:6379', 'redis://', 'redis://cache:6379/zero']) {
      const { problems, message } = problemsOf({ REDIS_URL: url });
      expect(problems.map((p) => p.variable)).toEqual(['REDIS_URL']);
      expect(message).not.toContain('hunter2');
    }
  });

  it('take a hash-tagged prefix for Redis Cluster and refuse malformed ones', () => {
    expect(loadServingConfig({ REDIS_KEY_PREFIX: '{predict}:' }).REDIS_KEY_PREFIX).toBe('{predict}:');
    expect(loadServingConfig({ REDIS_KEY_PREFIX: 'prod:{predict}:' }).REDIS_KEY_PREFIX).toBe('prod:{predict}:');
    for (const prefix of ['{predict:', 'a b:', '{}:', '{a}{b}:', 'x'.repeat(129)]) {
      expect(problemsOf({ REDIS_KEY_PREFIX: prefix }).problems.map((p) => p.variable)).toEqual(['REDIS_KEY_PREFIX']);
    }
  });

  it('bound the log sizes', () => {
    const { problems } = problemsOf({ PREDICTION_LOG_MAXLEN: '0', PREDICTION_LOG_BUFFER: '-1', PREDICTION_LOG_BATCH: 'many' });
    expect(problems.map((p) => p.variable).sort()).toEqual(['PREDICTION_LOG_BATCH', 'PREDICTION_LOG_BUFFER', 'PREDICTION_LOG_MAXLEN']);
  });
});

describe('redactRedisUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(redactRedisUrl('rediss://app:s3cret@cache:6380/2')).toBe('rediss://app:***@cache:6380/2');
    expect(redactRedisUrl('redis://cache:6379')).toBe('redis://cache:6379');
  });
});
