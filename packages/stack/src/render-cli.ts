/**
 * `pnpm --filter @predict/stack render`: writes the committed rendering infra/nginx/compose.conf from the
 * template and infra/services.json. A test checks it matches.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMPOSE_NGINX_CONF, composeNginxView, renderNginx } from './nginx-config';
import { REPO_ROOT, loadServices } from './services';

const services = loadServices();
for (const [file, text] of [
  [COMPOSE_NGINX_CONF, renderNginx(composeNginxView(services))],
] as const) {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${path.relative(REPO_ROOT, file)}\n`);
}
