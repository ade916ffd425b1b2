import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { probe, until } from './probe';
import { findCommand } from './system-tools';

/**
 * Writes `config` to <scratchDir>/<name>.conf, checks it with `nginx -t`, starts nginx in the foreground
 * (its pid, temp files and logs in `scratchDir`, as the rendering says) and resolves once GET /health
 * answers 200 on `port`. Output: the child's stdout/stderr (the caller logs them). `onSpawn` gets the child
 * as soon as it exists, before it answers: a caller stopped meanwhile can stop it (nginx runs in its own
 * process group, so nothing else would).
 */
export async function launchNginx(options: {
  config: string;
  scratchDir: string;
  port: number;
  name?: string;
  onSpawn?: (child: ChildProcess) => void;
}): Promise<{ child: ChildProcess; configFile: string }> {
  const configFile = path.join(options.scratchDir, `${options.name ?? 'nginx'}.conf`);
  writeFileSync(configFile, options.config);
  const nginx = findCommand('nginx') ?? 'nginx';
  const check = spawnSync(nginx, ['-t', '-q', '-p', options.scratchDir, '-c', configFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused ${configFile}:\n${check.stderr}`);
  const child = spawn(nginx, ['-p', options.scratchDir, '-c', configFile, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  options.onSpawn?.(child);
  try {
    await until(async () => (await probe(options.port, '/health')) === 200, `nginx on port ${options.port}`, 30_000, () =>
      child.exitCode !== null ? `exited with code ${child.exitCode} (its error log is in ${options.scratchDir})` : undefined,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { child, configFile };
}
