// Writes docker-compose.yml, .env.example, compose's Prometheus targets, infra/nginx/compose.conf and
// infra/k8s/base from infra/services.json. `pnpm --filter @predict/deploy-checks generate`
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generatedFiles } from '../generated-files';
import { loadRegistry, REPO_ROOT } from '../registry';

const say = (line: string) => process.stdout.write(`${line}\n`);

for (const [file, content] of generatedFiles(loadRegistry())) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  say(`wrote ${path.relative(REPO_ROOT, file)}`);
}
