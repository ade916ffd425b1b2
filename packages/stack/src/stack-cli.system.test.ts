/** `pnpm stack` as a user runs it: the built launcher, its summary, a request through nginx, and a clean stop. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '@predict/serving/testing';
import { probe } from './probe';
import { portAnswers } from './system-tools';

const MAIN = path.resolve(__dirname, '../dist/main.js');

/** The built launcher (`--quiet`), its stdout and stderr gathered, and its exit code once it exits. */
function launch(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN, ...args, '--quiet'], {
    env: { ...process.env, ACCESS_LOG: 'false', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, log: () => output, exited };
}

describe('pnpm stack', () => {
  it('refuses a bad option, naming it', () => {
    const bad = spawnSync(process.execPath, [MAIN, '--replicas', 'flight-delay=x'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--replicas: 'flight-delay=x' is not name=count/);
  });

  it('starts Redis (none answers at its REDIS_URL) and every listed service behind nginx, prints the summary and URLs, and stops everything on SIGTERM, even when the signal comes twice (pnpm forwards a Ctrl-C)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stack-cli-'));
    const { child, log, exited } = launch(['--replicas', 'flight-delay=2,taxi-eta=1', '--port', '7250', '--port-base', '7251'], { STACK_DIR: dir, REDIS_URL: 'redis://127.0.0.1:7249' });
    try {
      await eventually(() => log().includes('all ready') || child.exitCode !== null, 'the stack to be ready', 200_000);
      expect(log()).toContain('all ready');
      expect(log()).toContain('redis: started redis-server on 127.0.0.1:7249');
      expect(log()).toMatch(/flight-delay\s+1\s+7251\s+\d+\s+ready/);
      expect(log()).toMatch(/flight-delay\s+2\s+7252\s+\d+\s+ready/);
      expect(log()).toMatch(/taxi-eta\s+1\s+7253\s+\d+\s+ready/);
      expect(log()).toContain('flight-delay: http://127.0.0.1:7250/flight-delay/');
      expect(await probe(7250, '/flight-delay/health/ready')).toBe(200);
      expect(await probe(7250, '/taxi-eta/health/ready')).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await eventually(() => log().includes('SIGTERM: stopping'), 'the launcher to start stopping');
      child.kill('SIGINT'); // the second signal: answered, not fatal
      expect(await exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(log()).toContain('SIGINT: still stopping');
    expect(log()).toContain('stopped');
    for (const port of [7249, 7250, 7251, 7252, 7253]) expect({ port, answers: await portAnswers(port) }).toEqual({ port, answers: false });
  });

  it('a signal while nginx is coming up stops nginx too (it runs in its own process group, so only the launcher can)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stack-cli-'));
    const only = 'flight-delay=1,taxi-eta=0,vehicle-classifier=0,iit-risk=0,batch-worker=0';
    const { child, log, exited } = launch(['--replicas', only, '--port', '7260', '--port-base', '7261'], { STACK_DIR: dir });
    try {
      // nginx listens as soon as it starts; the launcher sees it only at its next readiness probe (every 100 ms):
      // a signal the moment the port answers arrives while the launcher is still waiting for nginx.
      await eventually(async () => (await portAnswers(7260)) || child.exitCode !== null, 'nginx to listen', 200_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
    expect(log()).toContain('SIGTERM: stopping');
    expect(log()).not.toContain('all ready');
    for (const port of [7260, 7261]) expect({ port, answers: await portAnswers(port) }).toEqual({ port, answers: false });
    expect(spawnSync('pgrep', ['-f', `nginx.*${dir}`]).status).toBe(1); // no nginx of this stack's directory is left
  });
});
