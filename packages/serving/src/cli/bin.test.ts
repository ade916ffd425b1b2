import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

describe('package bins', () => {
  // pnpm links a workspace package's bins at install time, before `pnpm build`; a bin under dist/ is skipped and
  // `pnpm --filter <service> promote` then fails on a fresh clone with "predict-model: not found".
  it('point at committed files that exist before any build, each running its built CLI', () => {
    const { bin } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(Object.keys(bin)).toContain('predict-model');
    for (const file of Object.values(bin)) {
      expect(file.startsWith('dist/')).toBe(false);
      accessSync(path.join(root, file), constants.X_OK);
      expect(readFileSync(path.join(root, file), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n[\s\S]*require\('\.\.\/dist\/cli\/model-admin\.js'\)/);
    }
  });
});
