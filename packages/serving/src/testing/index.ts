export { startTestService, LogCapture, type TestService, type TestServiceOptions } from './test-service';
export { linearPredictor, LINEAR_MODEL_DIR } from './linear-predictor';
export { eventually } from './eventually';
export { twoInputPredictor, contribPredictor, lookupPredictor, FixtureStore } from './fixture-predictors';
export { RawHttpClient, listenOnLoopback, type RawResponse } from './raw-http';
export { connectTestRedis, deleteKeys, testRedisUrl, TestRedisServer, uniqueKeyPrefix } from '../redis/redis-test-support';
