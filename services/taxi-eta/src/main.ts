import path from 'node:path';
import { packageVersion, runService } from '@predict/serving';
import { createApp } from './app';
import { loadConfig } from './config';
import { taxiEtaPredictor } from './predictor';

runService({
  service: 'taxi-eta',
  version: packageVersion(path.resolve(__dirname, '../package.json')),
  predictor: taxiEtaPredictor,
  loadConfig,
  createApp,
}).catch((error: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', message: error.message, stack: error.stack })}\n`);
  process.exit(1);
});
