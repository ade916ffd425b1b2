import path from 'node:path';
import { packageVersion, runService } from '@predict/serving';
import { createApp } from './app';
import { loadConfig } from './config';
import { flightDelayPredictor } from './predictor';

runService({
  service: 'flight-delay',
  version: packageVersion(path.resolve(__dirname, '../package.json')),
  predictor: flightDelayPredictor,
  loadConfig,
  createApp,
}).catch((error: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', message: error.message, stack: error.stack })}\n`);
  process.exit(1);
});
