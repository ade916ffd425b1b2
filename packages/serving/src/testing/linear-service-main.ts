// The fixture model as a whole service process (runService: config from the environment, signals, WORKERS):
// what process-level tests and benchmarks of the core start with `node --import tsx`.
import { runService } from '../service/run-service';
import { linearPredictor } from './linear-predictor';

runService({ service: 'linear', version: '0.0.0', predictor: linearPredictor }).catch((error: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', message: error.message, stack: error.stack })}\n`);
  process.exit(1);
});
