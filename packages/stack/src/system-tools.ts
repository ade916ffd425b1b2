import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';

/** Whether `command` is on the PATH (or in the sbin directories, where Debian puts nginx). */
export function findCommand(command: string): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin']) {
    if (!dir) continue;
    const candidate = `${dir}/${command}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** The Debian packages that give each command. */
export const DEBIAN_PACKAGE: Record<string, string> = { nginx: 'nginx-light', 'redis-server': 'redis-server' };

/** The exact line a user runs to install what is missing. */
export const installLine = (packages: string[]) => `sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`;

/**
 * Installs the missing commands from Debian's packages when this process may (root, apt-get present);
 * returns the commands still missing.
 */
export function installMissing(commands: string[], say: (line: string) => void): string[] {
  const missing = commands.filter((c) => !findCommand(c));
  if (missing.length === 0) return [];
  const packages = missing.map((c) => DEBIAN_PACKAGE[c] ?? c);
  if (!isRoot() || !findCommand('apt-get')) return missing;
  say(`installing ${packages.join(', ')} from Debian's packages (apt-get; running as root)`);
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (error) {
    say(`apt-get failed: ${(error as Error).message}`);
  }
  return commands.filter((c) => !findCommand(c));
}

/** Whether something speaking RESP answers at host:port (any reply to PING counts: it may want a password). */
export function redisAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(/^[+-]/.test(data.toString())));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
  });
}

/** Whether a TCP port on 127.0.0.1 accepts connections. */
export function portAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
