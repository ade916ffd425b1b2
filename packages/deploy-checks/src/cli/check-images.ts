// What can be proven of the images without a Docker engine: for each deployable of infra/services.json on
// this branch, the Dockerfile's build steps run here in a scratch directory, as the Dockerfile runs them —
// `turbo prune <pkg> --docker`, `pnpm install --frozen-lockfile --offline` from the pruned lockfile (the
// local store), `turbo run build`, `pnpm deploy --prod --legacy --offline`, infra/docker/slim-deploy.sh —
// then the deployed folder is started with `node dist/main.js` on a port from CHECK_IMAGES_PORT (7800 by default) and must answer
// /health/ready, and exit 0 on SIGTERM. Prints the deployed size (the image adds the Node base and tini).
//
//   pnpm --filter @predict/deploy-checks check:images [name ...]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probe, until } from '@predict/stack';
import { loadRegistry, REPO_ROOT, type Deployable } from '../registry';

const say = (line: string) => process.stdout.write(`${line}\n`);

const run = (cmd: string, args: string[], cwd: string) => {
  say(`  $ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CI: 'true', TURBO_TELEMETRY_DISABLED: '1' } });
};
const sizeMb = (dir: string) => Number(execFileSync('du', ['-sm', dir], { encoding: 'utf8' }).split('\t')[0]);

/**
 * What a deployable needs to start, as compose gives it: the worker needs Redis (REDIS_URL, default the local
 * one, with a queue prefix of its own so it takes no one's jobs); every registry secret gets a random value.
 */
function runEnv(s: Deployable): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of s.secrets) env[name] = randomBytes(32).toString('hex');
  if (s.kind === 'worker') {
    env['REDIS_URL'] = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
    env['JOBS_PREFIX'] = `{check-images-${process.pid}}`;
  }
  return env;
}

/** The worker's queue keys under this run's prefix, deleted from the shared Redis (redis-cli, when present). */
function dropKeys(env: Record<string, string>): void {
  const url = env['REDIS_URL'] ?? '';
  const keys = spawnSync('redis-cli', ['-u', url, '--scan', '--pattern', `${env['JOBS_PREFIX']}:*`], { encoding: 'utf8' });
  const names = keys.status === 0 ? keys.stdout.split('\n').filter(Boolean) : [];
  if (names.length > 0) spawnSync('redis-cli', ['-u', url, 'del', ...names], { stdio: 'ignore' });
}

async function check(s: Deployable, port: number): Promise<string> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), `image-${s.name}-`));
  try {
    const pruned = path.join(scratch, 'pruned');
    const build = path.join(scratch, 'build');
    const deploy = path.join(scratch, 'deploy');
    const app = path.join(scratch, 'app');
    run('pnpm', ['exec', 'turbo', 'prune', s.package, '--docker', '--out-dir', pruned], REPO_ROOT);
    cpSync(path.join(pruned, 'json'), build, { recursive: true });
    cpSync(path.join(pruned, 'pnpm-lock.yaml'), path.join(build, 'pnpm-lock.yaml'));
    cpSync(path.join(pruned, 'pnpm-workspace.yaml'), path.join(build, 'pnpm-workspace.yaml'));
    run('pnpm', ['install', '--frozen-lockfile', '--offline'], build);
    cpSync(path.join(pruned, 'full'), build, { recursive: true });
    run('pnpm', ['exec', 'turbo', 'run', 'build', `--filter=${s.package}`], build);
    run('pnpm', ['--filter', s.package, 'deploy', '--prod', '--legacy', '--offline', deploy], build);
    run('sh', [path.join(REPO_ROOT, 'infra/docker/slim-deploy.sh'), deploy, app, 'amd64'], build);
    const mb = sizeMb(app);
    const models = existsSync(path.join(app, 'model')) ? readdirSync(path.join(app, 'model')).filter((v) => /^\d+$/.test(v)) : [];
    say(`  deployed folder: ${mb} MB (${sizeMb(path.join(app, 'node_modules'))} MB node_modules), model versions: ${models.join(', ') || 'none'}`);
    const env = runEnv(s);
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: app,
      env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), SHUTDOWN_GRACE_MS: '0', ACCESS_LOG: 'false', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // 'error' too: a process that never started emits no 'exit'.
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()).once('error', () => resolve()));
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    try {
      const died = () => (gone() ? `exited ${child.exitCode ?? child.signalCode} before it was ready` : undefined);
      await until(async () => (await probe(port, '/health/ready')) === 200, `${s.name} /health/ready`, 180_000, died);
      child.kill('SIGTERM');
      await exited;
      if (child.exitCode !== 0) throw new Error(`exited ${child.exitCode ?? child.signalCode} on SIGTERM`);
    } finally {
      if (!gone()) child.kill('SIGKILL');
      await exited;
      // After the process is gone (it writes no more), failed check or not: this run's queue keys leave the shared Redis.
      if (s.kind === 'worker') dropKeys(env);
    }
    return `${s.name}: pruned, installed offline, built, deployed (${mb} MB), ready on /health/ready, exit 0 on SIGTERM`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const results: string[] = [];
  let failed = false;
  let port = Number(process.env['CHECK_IMAGES_PORT'] ?? 7800);
  for (const s of loadRegistry()) {
    if (wanted.length > 0 && !wanted.includes(s.name)) continue;
    if (!existsSync(path.join(REPO_ROOT, s.dir, 'package.json'))) {
      results.push(`${s.name}: skipped (${s.dir} is not on this branch)`);
      continue;
    }
    say(`${s.name} (${s.package})`);
    try {
      results.push(await check(s, port++));
    } catch (error) {
      failed = true;
      results.push(`${s.name}: FAILED: ${(error as Error).message}`);
    }
  }
  say(`\n${results.join('\n')}`);
  process.exit(failed ? 1 : 0);
}

void main();
