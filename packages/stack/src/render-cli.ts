/**
 * `pnpm --filter @predict/stack render`: writes the committed renderings (infra/nginx/compose.conf,
 * infra/monitoring/prometheus.yml) from their templates and infra/services.json. A test checks they match.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMPOSE_NGINX_CONF, composeNginxView, renderNginx } from './nginx-config';
import { COMPOSE_PROMETHEUS_YML, composePrometheusView, renderPrometheus } from './prometheus-config';
import { REPO_ROOT, loadServices } from './services';

const services = loadServices();
for (const [file, text] of [
  [COMPOSE_NGINX_CONF, renderNginx(composeNginxView(services))],
  [COMPOSE_PROMETHEUS_YML, renderPrometheus(composePrometheusView(services))],
] as const) {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${path.relative(REPO_ROOT, file)}\n`);
}
