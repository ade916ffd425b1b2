import { parseArgs } from 'node:util';
import { DEFAULT_RATE_LIMIT } from './nginx-config';
import { parseReplicas } from './ports';
import type { ServiceEntry } from './services';
import type { StackOptions } from './stack';

export const USAGE = `pnpm stack [options]   — every service of infra/services.json behind nginx, on this machine

  --replicas NAME=N,…   replicas per service (default 1 each; 0 leaves one out)     env STACK_REPLICAS
  --port N              nginx's entry port on 127.0.0.1 (default 8080)               env STACK_PORT
  --port-base N         first replica port; replicas take consecutive ports         env STACK_PORT_BASE
                        (default: each service's own port, +100 per extra replica)
  --rate N --burst N    nginx rate limit per client and service (default ${DEFAULT_RATE_LIMIT.rate} r/s, burst ${DEFAULT_RATE_LIMIT.burst})
                                                                                    env STACK_RATE, STACK_BURST
  --tls-port N --tls-cert FILE --tls-key FILE   HTTPS on the entry as well
  --no-nginx            replicas only, each on its own port
  --quiet               do not stream the processes' logs (they stay in the scratch directory)
  --dir DIR             the scratch directory: configs, pid file, logs (default: a new one in $TMPDIR)
                                                                                    env STACK_DIR
  --help

Redis: REDIS_URL (default redis://127.0.0.1:6379); a redis-server is started when none answers there.
Every other variable (LOG_LEVEL, API_KEYS_*, …) is passed to every service process.`;

function intOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: '${value}' is not a whole number from ${min} to ${max}`);
  return n;
}

/** The command line and STACK_* variables → StackOptions (flags win); throws naming the bad option. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv, services: ServiceEntry[]): StackOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      replicas: { type: 'string' },
      port: { type: 'string' },
      'port-base': { type: 'string' },
      rate: { type: 'string' },
      burst: { type: 'string' },
      'tls-port': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'no-nginx': { type: 'boolean' },
      quiet: { type: 'boolean' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const port = intOption('--port', values.port ?? env['STACK_PORT'], 1, 65535) ?? 8080;
  const portBase = intOption('--port-base', values['port-base'] ?? env['STACK_PORT_BASE'], 1, 65535);
  const rate = intOption('--rate', values.rate ?? env['STACK_RATE'], 1, 1_000_000) ?? DEFAULT_RATE_LIMIT.rate;
  const burst = intOption('--burst', values.burst ?? env['STACK_BURST'], 0, 1_000_000) ?? DEFAULT_RATE_LIMIT.burst;
  const tlsPort = intOption('--tls-port', values['tls-port'], 1, 65535);
  const options: StackOptions = {
    replicas: parseReplicas(values.replicas ?? env['STACK_REPLICAS'] ?? '', services),
    port,
    rateLimit: { rate, burst },
    noNginx: values['no-nginx'] ?? false,
    streamLogs: !values.quiet,
  };
  if (portBase !== undefined) options.portBase = portBase;
  const dir = values.dir ?? env['STACK_DIR'];
  if (dir) options.scratchDir = dir;
  if (tlsPort !== undefined) {
    if (!values['tls-cert'] || !values['tls-key']) throw new Error('--tls-port needs --tls-cert and --tls-key');
    options.tls = { port: tlsPort, certificate: values['tls-cert'], key: values['tls-key'] };
  }
  return options;
}
