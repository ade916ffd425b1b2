import { ConfigError } from './config-error';
import { loadServingConfig, servingEnvSchema } from './serving-config';
import { intVar } from './env';

describe('loadServingConfig', () => {
  it('applies defaults to an empty environment', () => {
    const config = loadServingConfig({});
    expect(config).toMatchObject({ PORT: 8080, LOG_LEVEL: 'info', MAX_BATCH_SIZE: 64, INFERENCE_MODE: 'inline', API_KEYS_PREDICT: [] });
  });

  it('names every bad variable and the reason', () => {
    try {
      loadServingConfig({ PORT: 'eighty', MAX_BATCH_SIZE: '0', INFERENCE_MODE: 'gpu', API_KEYS_ADMIN: 'short' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems.map((p) => p.variable).sort()).toEqual(['API_KEYS_ADMIN', 'INFERENCE_MODE', 'MAX_BATCH_SIZE', 'PORT']);
      expect(problems.find((p) => p.variable === 'PORT')?.reason).toMatch(/whole number/);
      expect(problems.find((p) => p.variable === 'API_KEYS_ADMIN')?.reason).toMatch(/at least 16/);
      expect((error as Error).message).not.toContain('short');
    }
  });

  it('parses lists and booleans, and refuses METRICS_REQUIRE_AUTH without keys', () => {
    const config = loadServingConfig({ CORS_ORIGINS: 'https://a.example, https://b.example,', ACCESS_LOG: 'no' });
    expect(config.CORS_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
    expect(config.ACCESS_LOG).toBe(false);
    expect(() => loadServingConfig({ METRICS_REQUIRE_AUTH: 'true' })).toThrow(/METRICS_REQUIRE_AUTH/);
  });

  it('bounds the HTTP timeouts and refuses a headers timeout longer than the request timeout', () => {
    expect(loadServingConfig({})).toMatchObject({ HTTP_HEADERS_TIMEOUT_MS: 10_000, HTTP_REQUEST_TIMEOUT_MS: 30_000, HTTP_KEEP_ALIVE_TIMEOUT_MS: 65_000 });
    expect(() => loadServingConfig({ HTTP_HEADERS_TIMEOUT_MS: '40000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS/);
    expect(() => loadServingConfig({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '0' })).toThrow(/HTTP_KEEP_ALIVE_TIMEOUT_MS/);
  });

  it('lets a service extend the schema with its own variables', () => {
    const schema = servingEnvSchema.extend({ FEATURE_CACHE_SIZE: intVar(100, 1) });
    expect(loadServingConfig({ FEATURE_CACHE_SIZE: '5' }, schema).FEATURE_CACHE_SIZE).toBe(5);
    expect(() => loadServingConfig({ FEATURE_CACHE_SIZE: '-1' }, schema)).toThrow(/FEATURE_CACHE_SIZE/);
  });
});
