import path from 'node:path';
import { COMPOSE_NGINX_CONF, composeNginxView, renderNginx } from '@predict/stack';
import { composeFile, envExampleFile } from './compose';
import { k8sBaseFiles } from './k8s';
import { composePrometheusFile } from './prometheus';
import { REPO_ROOT, type Deployable } from './registry';

/** Every file the generator owns, by absolute path, with the content the registry gives it. */
export function generatedFiles(services: readonly Deployable[]): Map<string, string> {
  const files = new Map<string, string>([
    [path.join(REPO_ROOT, 'docker-compose.yml'), composeFile(services)],
    [path.join(REPO_ROOT, '.env.example'), envExampleFile(services)],
    [path.join(REPO_ROOT, 'infra/monitoring/prometheus/compose.yml'), composePrometheusFile(services)],
    // The one nginx template's compose rendering (@predict/stack's composeNginxView), as k8s.ts writes the cluster's.
    [COMPOSE_NGINX_CONF, renderNginx(composeNginxView([...services]))],
  ]);
  for (const [name, content] of k8sBaseFiles(services)) files.set(path.join(REPO_ROOT, 'infra/k8s/base', name), content);
  return files;
}
