import path from 'node:path';
import { packageVersion, runService } from '@predict/serving';
import { loadConfig } from './config';
import { iitRiskParts } from './parts';
import { iitRiskPredictor } from './predictor';

runService({
  service: 'iit-risk',
  version: packageVersion(path.resolve(__dirname, '../package.json')),
  predictor: iitRiskPredictor,
  loadConfig,
  parts: iitRiskParts,
}).catch((error: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', message: error.message, stack: error.stack })}\n`);
  process.exit(1);
});
