import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatedFiles } from './generated-files';
import { loadRegistry, REPO_ROOT } from './registry';

describe('generated deployment files', () => {
  it('match what infra/services.json gives (else: pnpm --filter @predict/deploy-checks generate)', () => {
    const stale: string[] = [];
    for (const [file, content] of generatedFiles(loadRegistry())) {
      if (!existsSync(file) || readFileSync(file, 'utf8') !== content) stale.push(path.relative(REPO_ROOT, file));
    }
    expect(stale).toEqual([]);
  });

  it('refuse a registry whose names or ports collide', () => {
    const services = loadRegistry();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-checks-'));
    try {
      const file = path.join(dir, 'services.json');
      writeFileSync(file, JSON.stringify({ services: [...services, { ...services[0], name: 'copy' }] }));
      expect(() => loadRegistry(file)).toThrow(/duplicate port \d+/);
      writeFileSync(file, JSON.stringify({ services: [...services, { ...services[0], port: 7399 }] }));
      expect(() => loadRegistry(file)).toThrow(/duplicate name '\S+'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
