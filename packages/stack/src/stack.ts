import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, writeFileSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { localNginxView, renderNginx, type RateLimit } from './nginx-config';
import { launchNginx } from './nginx-process';
import { replicaPorts } from './ports';
import { probe, until } from './probe';
import { renderLocalPrometheus } from './prometheus-config';
import { REPO_ROOT, entryScript, loadServices, nodeOptionsFor, presence, type ServiceEntry } from './services';
import { installLine, installMissing, isRoot, portAnswers, redisAnswers } from './system-tools';

export interface StackOptions {
  /** Replicas per service name (default 1 each; 0 leaves a service out). */
  replicas?: ReadonlyMap<string, number>;
  /** nginx's entry port on 127.0.0.1 (default 8080). */
  port?: number;
  /** First replica port; unset: each service's own port + 100 per extra replica (ports.ts). */
  portBase?: number;
  /** HTTPS on the entry too, with these certificate files. */
  tls?: { port: number; certificate: string; key: string };
  rateLimit?: RateLimit;
  /** Per service name, in place of `rateLimit`. */
  rateLimits?: Record<string, RateLimit>;
  /** Redis for every process (jobs, prediction log); default redis://127.0.0.1:6379, started when none answers. */
  redisUrl?: string;
  /** Extra environment for every service process (on top of this process's). */
  env?: Record<string, string>;
  /** Where configs, pid files and logs go (default: a new directory under the OS's temp dir). */
  scratchDir?: string;
  /** Receives every prefixed log line and status line (default: stdout). */
  log?: (line: string) => void;
  /** Stream the processes' own output to `log` (default true); always written to <scratch>/<name>.log. */
  streamLogs?: boolean;
  /** Bound on each replica becoming ready (default 180 s: model loads are slow on a busy machine). */
  readyTimeoutMs?: number;
  /** Run without nginx even where it is installed. */
  noNginx?: boolean;
  servicesFile?: string;
}

export interface Replica {
  service: ServiceEntry;
  index: number;
  port: number;
  /** `flight-delay#1` */
  label: string;
  process?: ChildProcess;
  exited?: Promise<number | null>;
}

const say = (options: StackOptions) => options.log ?? ((line: string) => void process.stdout.write(`${line}\n`));

/**
 * The multi-replica topology on one machine: Redis (started when none answers), N replicas of each service
 * on distinct loopback ports, the worker(s), and nginx in front with a config rendered from the one template.
 */
export class Stack {
  readonly replicas: Replica[] = [];
  readonly scratchDir: string;
  /** Entry port when nginx runs; undefined without nginx. */
  nginxPort: number | undefined;
  nginxConfig: string | undefined;
  readonly prometheusConfig: string;
  readonly skipped: { service: ServiceEntry; why: 'absent' | 'unbuilt'; reason: string }[] = [];
  readonly redisUrl: string;
  private nginx: ChildProcess | undefined;
  private redis: ChildProcess | undefined;
  private readonly logs = new Map<string, WriteStream>();
  private readonly say: (line: string) => void;
  private stopping = false;
  private readonly runSecrets = new Map<string, string>();

  private constructor(private readonly options: StackOptions) {
    this.say = say(options);
    this.scratchDir = options.scratchDir ?? mkdtempSync(path.join(os.tmpdir(), 'predict-stack-'));
    mkdirSync(this.scratchDir, { recursive: true });
    // nginx's workers run as `nobody` when it starts as root: they must reach its temp directories.
    chmodSync(this.scratchDir, 0o755);
    this.prometheusConfig = path.join(this.scratchDir, 'prometheus.yml');
    this.redisUrl = options.redisUrl ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  }

  /** Starts everything and resolves once every replica is ready and nginx answers; throws (having stopped what it started) otherwise. */
  static async start(options: StackOptions = {}): Promise<Stack> {
    const stack = Stack.create(options);
    await stack.boot();
    return stack;
  }

  /** A stack that has started nothing yet: `boot()` starts it; `stop()` may be called at any time. */
  static create(options: StackOptions = {}): Stack {
    return new Stack(options);
  }

  async boot(): Promise<void> {
    try {
      await this.bootSteps();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private async bootSteps(): Promise<void> {
    const services = loadServices(this.options.servicesFile);
    const counts = this.options.replicas ?? new Map<string, number>();
    const running: ServiceEntry[] = [];
    for (const service of services) {
      if ((counts.get(service.name) ?? 1) === 0) continue;
      const here = presence(service);
      if (here.present) running.push(service);
      else {
        this.skipped.push({ service, why: here.why, reason: here.reason });
        this.say(`WARNING: skipping ${service.name}: ${here.reason}`);
      }
    }
    if (running.length === 0) throw new Error('no service of infra/services.json can run here: run pnpm build');
    const layout = replicaPorts(running, counts, this.options.portBase);
    for (const service of running) {
      for (const [index, port] of (layout.get(service.name) ?? []).entries()) {
        this.replicas.push({ service, index, port, label: `${service.name}#${index + 1}` });
      }
    }
    const busy = [];
    for (const r of this.replicas) if (await portAnswers(r.port)) busy.push(`${r.label} → ${r.port}`);
    if (!this.options.noNginx) {
      for (const [what, port] of [['nginx', this.options.port ?? 8080], ['nginx https', this.options.tls?.port]] as const) {
        if (port !== undefined && (await portAnswers(port))) busy.push(`${what} → ${port}`);
      }
    }
    if (busy.length) throw new Error(`ports already in use: ${busy.join(', ')} (pass --port / --port-base, or stop what listens there)`);

    const redisUrl = new URL(this.redisUrl);
    const redisHere = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) };
    const redisAnswering = await redisAnswers(redisHere.host, redisHere.port);
    // Install only what this run needs: nginx unless --no-nginx, redis-server when no Redis answers.
    const missing = installMissing([...(this.options.noNginx ? [] : ['nginx']), ...(redisAnswering ? [] : ['redis-server'])], this.say);
    if (redisAnswering) this.say(`redis: answers at ${redisHere.host}:${redisHere.port}`);
    else await this.startRedis(redisHere, missing.includes('redis-server'));

    const byService = running.map((service) => ({ service, ports: layout.get(service.name) ?? [] }));
    writeFileSync(this.prometheusConfig, renderLocalPrometheus(byService));

    await Promise.all(this.replicas.map((r) => this.startReplica(r)));

    if (this.options.noNginx) this.say('nginx: not started (--no-nginx); every service answers on its own port');
    else if (missing.includes('nginx')) {
      this.say(`WARNING: nginx is not installed, so there is no single entry port; every service answers on its own port. Install it with:\n  ${installLine(['nginx-light'])}`);
    } else await this.startNginx(byService);
  }

  private async startRedis({ host, port }: { host: string; port: number }, notInstalled: boolean): Promise<void> {
    if (!['127.0.0.1', 'localhost'].includes(host)) {
      this.say(`WARNING: no Redis answers at ${host}:${port} (REDIS_URL); jobs will answer 503 until it does`);
      return;
    }
    if (notInstalled) {
      this.say(`WARNING: no Redis answers at ${host}:${port} and redis-server is not installed; predictions work, jobs answer 503. Install it with:\n  ${installLine(['redis-server'])}`);
      return;
    }
    if (this.stopping) throw new Error('the stack is stopping');
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.redis = redis;
    this.pipe('redis', redis);
    await until(() => redisAnswers(host, port), `redis-server on ${port}`, 15_000, () =>
      redis.exitCode !== null ? `exited with code ${redis.exitCode} (see ${this.logFile('redis')})` : undefined,
    );
    this.say(`redis: started redis-server on 127.0.0.1:${port} (no persistence; stopped with the stack)`);
  }

  private logFile(label: string): string {
    return path.join(this.scratchDir, `${label.replace('#', '-')}.log`);
  }

  /** Writes a child's output, line by line and prefixed, to its log file and (unless turned off) to `log`. */
  private pipe(label: string, child: ChildProcess): void {
    let file = this.logs.get(label);
    if (!file) {
      file = createWriteStream(this.logFile(label), { flags: 'a' });
      this.logs.set(label, file);
    }
    const out = file;
    const stream = this.options.streamLogs ?? true;
    for (const source of [child.stdout, child.stderr]) {
      if (!source) continue;
      createInterface({ input: source }).on('line', (line) => {
        out.write(`${line}\n`);
        if (stream) this.say(`[${label}] ${line}`);
      });
    }
  }

  /**
   * A service's secret variables (infra/services.json `secrets`): from the environment, else a random value
   * made once per run, and said (fine for a developer's stack; a real deployment sets them).
   */
  private secretsFor(service: ServiceEntry): Record<string, string> {
    const values: Record<string, string> = {};
    for (const name of service.secrets) {
      let value = this.options.env?.[name] ?? process.env[name] ?? this.runSecrets.get(name);
      if (!value) {
        value = randomBytes(32).toString('hex');
        this.runSecrets.set(name, value);
        this.say(`${name} is not set: ${service.name} gets a random one for this run (set it to keep it across runs)`);
      }
      values[name] = value;
    }
    return values;
  }

  /** Starts (or restarts) one replica on its port and resolves when its readiness answers 200. */
  async startReplica(replica: Replica): Promise<void> {
    if (this.stopping) throw new Error('the stack is stopping');
    const nodeOptions = nodeOptionsFor(replica.service, this.options.env?.['NODE_OPTIONS'] ?? process.env['NODE_OPTIONS']);
    const child = spawn(process.execPath, [entryScript(replica.service)], {
      cwd: path.join(REPO_ROOT, replica.service.dir),
      env: {
        ...process.env,
        NODE_ENV: process.env['NODE_ENV'] ?? 'production',
        REDIS_URL: this.redisUrl,
        ...this.options.env,
        ...this.secretsFor(replica.service),
        ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
        HOST: '127.0.0.1',
        PORT: String(replica.port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl-C reaches the launcher only, which stops nginx first.
      detached: true,
    });
    replica.process = child;
    replica.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.stopping) this.say(`[${replica.label}] exited (${code ?? signal})`);
        resolve(code ?? (signal ? -1 : null));
      }),
    );
    this.pipe(replica.label, child);
    await until(
      async () => (await probe(replica.port, '/health/ready')) === 200,
      `${replica.label} ready on port ${replica.port}`,
      this.options.readyTimeoutMs ?? 180_000,
      () => (child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode}); see ${this.logFile(replica.label)}` : undefined),
    );
  }

  /** Sends `signal` to one replica and resolves with its exit code once it has exited (SIGKILL: -1). */
  async signalReplica(replica: Replica, signal: NodeJS.Signals): Promise<number | null> {
    const child = replica.process;
    if (!child || !replica.exited) return null;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return replica.exited;
  }

  replica(name: string, index: number): Replica {
    const found = this.replicas.find((r) => r.service.name === name && r.index === index);
    if (!found) throw new Error(`no replica ${name}#${index + 1}`);
    return found;
  }

  private async startNginx(byService: { service: ServiceEntry; ports: number[] }[]): Promise<void> {
    if (this.stopping) throw new Error('the stack is stopping');
    const port = this.options.port ?? 8080;
    const config = renderNginx(
      localNginxView({
        replicas: byService,
        port,
        scratchDir: this.scratchDir,
        ...(this.options.tls ? { tls: this.options.tls } : {}),
        ...(this.options.rateLimit ? { rateLimit: this.options.rateLimit } : {}),
        ...(this.options.rateLimits ? { rateLimits: this.options.rateLimits } : {}),
        // Started as root, nginx switches its workers to a user; Debian's nobody has the group nogroup.
        ...(isRoot() ? { user: 'nobody nogroup' } : {}),
      }),
    );
    const { configFile } = await launchNginx({
      config,
      scratchDir: this.scratchDir,
      port,
      // Known to stop() from its spawn on: a signal while nginx comes up stops it too, not only the replicas.
      onSpawn: (child) => {
        this.nginx = child;
        this.pipe('nginx', child);
      },
    });
    this.nginxConfig = configFile;
    this.nginxPort = port;
  }

  /** nginx's access log (JSON lines) of this stack. */
  get nginxAccessLog(): string {
    return path.join(this.scratchDir, 'nginx-access.log');
  }

  /** The readiness summary: every replica, its port and state, and the URLs to call. */
  async summary(): Promise<string> {
    const lines = ['', 'service            replica  port   pid      ready'];
    for (const r of this.replicas) {
      const ready = (await probe(r.port, '/health/ready')) === 200 ? 'ready' : 'NOT READY';
      lines.push(`${r.service.name.padEnd(18)} ${String(r.index + 1).padEnd(8)} ${String(r.port).padEnd(6)} ${String(r.process?.pid ?? '-').padEnd(8)} ${ready}`);
    }
    for (const s of this.skipped) lines.push(`${s.service.name.padEnd(18)} skipped: ${s.reason}`);
    lines.push('');
    const services = [...new Set(this.replicas.map((r) => r.service))];
    if (this.nginxPort !== undefined) {
      lines.push(`entry (nginx): http://127.0.0.1:${this.nginxPort}/  (config ${this.nginxConfig}; access log ${this.nginxAccessLog})`);
      if (this.options.tls) lines.push(`               https://127.0.0.1:${this.options.tls.port}/`);
      for (const s of services) lines.push(`  ${s.name}: http://127.0.0.1:${this.nginxPort}/${s.name}/`);
      if (services.some((s) => s.kind === 'worker')) lines.push(`  queues: http://127.0.0.1:${this.nginxPort}/admin/queues`);
    }
    lines.push('each replica directly (Prometheus scrapes these):');
    for (const r of this.replicas) lines.push(`  ${r.label}: http://127.0.0.1:${r.port}/`);
    lines.push(`prometheus config for these replicas: ${this.prometheusConfig} (prometheus --config.file=${this.prometheusConfig})`);
    lines.push(`logs: ${this.scratchDir}/*.log`);
    return lines.join('\n');
  }

  /**
   * Stops everything this stack started: nginx first (no new traffic), then every replica and worker with
   * SIGTERM (their own drain; SIGKILL after 30 s), then the Redis it started.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await stopChild(this.nginx, 'SIGQUIT', 10_000);
    await Promise.all(this.replicas.map((r) => stopChild(r.process, 'SIGTERM', 30_000)));
    await stopChild(this.redis, 'SIGTERM', 10_000);
    await Promise.all([...this.logs.values()].map((s) => new Promise((r) => s.end(r))));
  }
}

/** Signals a child and waits for its exit; SIGKILL after `timeoutMs`. */
async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}
