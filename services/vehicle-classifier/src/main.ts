import path from 'node:path';
import { configOrExit, packageVersion, runService } from '@predict/serving';
import { vehicleParts } from './app';
import { loadConfig, type Config } from './config';
import { vehiclePredictor } from './predictor';

// The service's own variables shape the predictor (the pixel limit) before the service starts, so they are
// read here first; a bad value exits 1 naming the variable, as runService does for the rest.
const config: Config = configOrExit('vehicle-classifier', () => loadConfig());

runService({
  service: 'vehicle-classifier',
  version: packageVersion(path.resolve(__dirname, '../package.json')),
  predictor: vehiclePredictor({ maxPixels: config.MAX_IMAGE_PIXELS, maxBytes: config.MAX_IMAGE_BYTES }),
  loadConfig: () => config,
  parts: vehicleParts(config),
}).catch((error: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', message: error.message, stack: error.stack })}\n`);
  process.exit(1);
});
