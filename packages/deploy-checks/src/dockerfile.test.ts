import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDockerfile } from './dockerfile';
import { loadRegistry, REPO_ROOT } from './registry';

const DOCKER = path.join(REPO_ROOT, 'infra/docker');
const instructions = parseDockerfile(readFileSync(path.join(DOCKER, 'Dockerfile'), 'utf8'));
const inStage = (stage: string) => instructions.filter((i) => i.stage === stage);
const rootPackage = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { packageManager: string; devDependencies: Record<string, string> };

describe('infra/docker/Dockerfile', () => {
  it('builds in stages: prune → install from the pruned lockfile → build → pnpm deploy --prod → runtime', () => {
    expect(instructions.filter((i) => i.instruction === 'FROM').map((i) => i.stage)).toEqual(['base', 'prune', 'build', 'runtime']);
    expect(inStage('prune').map((i) => i.args)).toContain('turbo prune "${SERVICE_PACKAGE}" --docker --out-dir /pruned');
    const build = inStage('build').map((i) => `${i.instruction} ${i.args}`);
    const install = build.findIndex((l) => l.includes('pnpm install --frozen-lockfile'));
    const sources = build.findIndex((l) => l.startsWith('COPY --from=prune /pruned/full/'));
    expect(install).toBeGreaterThan(build.indexOf('COPY --from=prune /pruned/json/ ./'));
    // Dependencies install before the sources arrive: a source change reuses the install layer.
    expect(sources).toBeGreaterThan(install);
    expect(build.some((l) => /pnpm --filter "\$\{SERVICE_PACKAGE\}" deploy --prod --legacy/.test(l))).toBe(true);
  });

  it('pins the pnpm of packageManager and the turbo of the root devDependencies', () => {
    const npmInstall = inStage('base').find((i) => i.args.startsWith('npm install --global'))?.args ?? '';
    expect(npmInstall).toContain(rootPackage.packageManager);
    expect(npmInstall).toContain(`turbo@${rootPackage.devDependencies['turbo']}`);
  });

  it('runs as the unprivileged node user under tini, healthy when /health/ready answers, without curl', () => {
    const runtime = inStage('runtime');
    expect(runtime[0]?.args).toBe('${NODE_IMAGE} AS runtime');
    expect(runtime.filter((i) => i.instruction === 'USER').map((i) => i.args)).toEqual(['node']);
    expect(runtime.find((i) => i.instruction === 'ENTRYPOINT')?.args).toBe('["/usr/bin/tini", "--", "/usr/local/bin/entrypoint"]');
    expect(runtime.find((i) => i.instruction === 'CMD')?.args).toBe('["node", "dist/main.js"]');
    const health = runtime.find((i) => i.instruction === 'HEALTHCHECK')?.args ?? '';
    expect(health).toMatch(/CMD \["node", "-e", ".*\/health\/ready.*"\]$/);
    expect(health).not.toContain('curl');
    expect(runtime.map((i) => i.args)).toContain('--from=build /app /app');
    // The port comes from the build argument compose passes from infra/services.json.
    expect(runtime.map((i) => `${i.instruction} ${i.args}`)).toEqual(expect.arrayContaining(['ARG SERVICE_PORT=8080', 'EXPOSE ${SERVICE_PORT}']));
    expect(runtime.find((i) => i.instruction === 'ENV')?.args).toContain('PORT=${SERVICE_PORT}');
  });

  it('ignores local installs, build output, history and secrets in the build context, never the models', () => {
    const ignore = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git', '.env', '.env.*']));
    expect(ignore.filter((l) => /model|onnx|infra/.test(l))).toEqual([]);
  });

  it('fits every deployable on this branch: dist/main.js as start, and model versions for prediction services', () => {
    const present = loadRegistry().filter((s) => existsSync(path.join(REPO_ROOT, s.dir, 'package.json')));
    // Entries whose package is not on this branch yet (the batch worker while it is written) are checked once present.
    expect(present.length).toBeGreaterThan(0);
    for (const s of present) {
      const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, s.dir, 'package.json'), 'utf8')) as { name: string; main?: string; scripts?: Record<string, string>; files?: string[] };
      expect({ name: pkg.name, main: pkg.main, start: pkg.scripts?.['start'] }).toEqual({ name: s.package, main: 'dist/main.js', start: 'node dist/main.js' });
      if (s.kind === 'prediction') {
        // `pnpm deploy` copies what the package would publish: no "files" list may leave model/ out.
        expect(pkg.files === undefined || pkg.files.includes('model')).toBe(true);
        const versions = readdirSync(path.join(REPO_ROOT, s.dir, 'model')).filter((v) => /^\d+$/.test(v));
        expect(versions.length).toBeGreaterThan(0);
        for (const v of versions) expect(existsSync(path.join(REPO_ROOT, s.dir, 'model', v, 'model.onnx'))).toBe(true);
      }
    }
  });
});

describe('infra/docker/entrypoint.sh (run for real with sh)', () => {
  it('seeds the shared model volume with the image versions and pointer, never overwriting what is there', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'entrypoint-'));
    try {
      const baked = path.join(dir, 'baked');
      for (const v of ['1', '2']) {
        mkdirSync(path.join(baked, v), { recursive: true });
        writeFileSync(path.join(baked, v, 'model.onnx'), `image v${v}`);
      }
      writeFileSync(path.join(baked, 'active'), '2\n');
      const volume = path.join(dir, 'volume', 'svc');
      const run = () =>
        execFileSync('sh', [path.join(DOCKER, 'entrypoint.sh'), 'sh', '-c', 'echo "ran $0"', 'the-command'], {
          env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', MODEL_DIR: volume, BAKED_MODEL_DIR: baked },
          encoding: 'utf8',
        });
      expect(run()).toBe('ran the-command\n');
      expect(readdirSync(volume).sort()).toEqual(['1', '2', 'active']);
      expect(readFileSync(path.join(volume, '2', 'model.onnx'), 'utf8')).toBe('image v2');
      // A rollback written to the volume, and a version there, survive the next start.
      writeFileSync(path.join(volume, 'active'), '1\n');
      writeFileSync(path.join(volume, '2', 'model.onnx'), 'volume v2');
      rmSync(path.join(volume, '1'), { recursive: true });
      run();
      expect(readFileSync(path.join(volume, 'active'), 'utf8')).toBe('1\n');
      expect(readFileSync(path.join(volume, '2', 'model.onnx'), 'utf8')).toBe('volume v2');
      expect(readFileSync(path.join(volume, '1', 'model.onnx'), 'utf8')).toBe('image v1');
      expect(readdirSync(volume).filter((f) => f.startsWith('.seed'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
