export { startTestService, LogCapture, type TestService, type TestServiceOptions } from './test-service';
export { linearPredictor, LINEAR_MODEL_DIR } from './linear-predictor';
