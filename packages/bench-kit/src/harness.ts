/**
 * The shared part of `pnpm bench`: servers pinned to core 0 (`taskset -c 0`), this load generator re-run on
 * core 1, autocannon on loopback, and figures quoted as medians of rounds and as ratios to a floor measured
 * in the same run (this machine is noisy). Not a test: nothing here passes or fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import autocannon from 'autocannon';

export const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
export const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
export const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
/** The floor server: run with `node --import tsx <MINIMAL_EXPRESS>`; it answers POST /echo. */
export const MINIMAL_EXPRESS = path.join(__dirname, 'minimal-express.ts');

export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

/**
 * Runs `main` with this process pinned to core 1 (re-executing itself under taskset once), so the load
 * generator never shares the servers' core.
 */
export function runPinned(filename: string, main: () => Promise<void>): void {
  if (hasTaskset && process.env['BENCH_PINNED'] !== '1') {
    const child = spawn('taskset', ['-c', '1', process.execPath, ...process.execArgv, filename], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_PINNED: '1' },
    });
    child.on('exit', (code) => process.exit(code ?? 1));
    return;
  }
  main().catch((error: Error) => {
    console.error(error);
    process.exit(1);
  });
}

export const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export function waitReady(port: number, route: string, method = 'GET'): Promise<void> {
  const deadline = Date.now() + 60_000;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const req = http.request({ host: '127.0.0.1', port, path: route, method, agent: false }, (res) => {
        res.resume();
        if (res.statusCode !== undefined && res.statusCode < 500) resolve();
        else retry();
      });
      req.on('error', retry);
      req.end();
    };
    const retry = () => (Date.now() > deadline ? reject(new Error(`port ${port} not ready`)) : setTimeout(attempt, 100));
    attempt();
  });
}

export interface ServerSpec {
  name: string;
  /** node arguments (a script and its flags). */
  args: string[];
  env: Record<string, string>;
  port: number;
  /** Path that answers < 500 once the server is ready. */
  ready: string;
  /** Pin to core 0 (default true). */
  pinned?: boolean;
  /** Working directory; its .bench/ folder holds the server's log. */
  cwd: string;
  /**
   * The infra/services.json entry this server is: it runs with that entry's `nodeOptions` (as NODE_OPTIONS,
   * the caller's own appended), as compose, Kubernetes and `pnpm stack` run it.
   */
  deployable?: string;
}

/** A deployable's own Node/V8 flags (infra/services.json `nodeOptions`), undefined when it has none. */
export function deployedNodeOptions(name: string): string | undefined {
  const file = path.resolve(__dirname, '../../../infra/services.json');
  const { services } = JSON.parse(readFileSync(file, 'utf8')) as { services: { name: string; nodeOptions?: string }[] };
  const entry = services.find((s) => s.name === name);
  if (!entry) throw new Error(`${name} is not listed in ${file}`);
  return entry.nodeOptions;
}

/** Starts a node server (pinned to core 0 unless `pinned` is false), its output in <cwd>/.bench/<name>.log. */
export async function startServer(spec: ServerSpec): Promise<ChildProcess> {
  const out = path.join(spec.cwd, '.bench');
  mkdirSync(out, { recursive: true });
  const log = createWriteStream(path.join(out, `${spec.name}.log`));
  const pin = hasTaskset && (spec.pinned ?? true);
  const cmd = pin ? 'taskset' : process.execPath;
  const argv = pin ? ['-c', '0', process.execPath, ...spec.args] : spec.args;
  const own = spec.deployable === undefined ? undefined : deployedNodeOptions(spec.deployable);
  const nodeOptions = [own, spec.env['NODE_OPTIONS'] ?? process.env['NODE_OPTIONS']].filter((o) => o !== undefined && o !== '').join(' ');
  const child = spawn(cmd, argv, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env, ...(nodeOptions === '' ? {} : { NODE_OPTIONS: nodeOptions }), PORT: String(spec.port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  await waitReady(spec.port, spec.ready);
  return child;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/**
 * autocannon on one URL: a POST of `body` (JSON unless `contentType` says otherwise, e.g. a multipart upload),
 * or a GET when `body` is undefined; `overallRate` paces it.
 */
export async function load(
  url: string,
  body: string | Buffer | undefined,
  seconds = SECONDS,
  connections = CONNECTIONS,
  overallRate?: number,
  contentType = 'application/json',
): Promise<Load> {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    ...(body === undefined ? {} : { method: 'POST' as const, headers: { 'content-type': contentType }, body }),
    ...(overallRate ? { overallRate } : {}),
  });
  return {
    rps: result.requests.p50,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** The value of the first series of `name` on a server's /metrics. */
export async function metric(port: number, name: string): Promise<number | undefined> {
  const text = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString()));
      res.on('end', () => resolve(data));
    }).on('error', reject);
  });
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.split(' ').at(-1)) : undefined;
}

export interface Scenario {
  name: string;
  url: string;
  body: string;
}

/**
 * Alternates scenarios for ROUNDS rounds (after a short warm-up each) and prints, per scenario, the median rps,
 * p50, p99 and the median of per-round ratios to the first scenario (the floor), so slow drifts of a shared
 * machine cancel out. Returns the rounds by scenario name and the paired ratio of each.
 */
export async function compareToFloor(scenarios: readonly Scenario[]): Promise<{ rounds: Map<string, Load[]>; ratio(name: string): number }> {
  const rounds = new Map<string, Load[]>(scenarios.map((s) => [s.name, []]));
  for (const s of scenarios) await load(s.url, s.body, 2); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of scenarios) rounds.get(s.name)!.push(await load(s.url, s.body));
  }
  const floorRounds = rounds.get(scenarios[0]!.name)!;
  const ratio = (name: string) => median(rounds.get(name)!.map((r, i) => r.rps / floorRounds[i]!.rps));
  console.log(`\nscenario (${CONNECTIONS} connections, ${SECONDS}s × ${ROUNDS} rounds)`.padEnd(52) + ' median rps   p50 ms   p99 ms   vs floor (median of per-round ratios)   errors+non2xx');
  for (const s of scenarios) {
    const r = rounds.get(s.name)!;
    const per = r.map((x, i) => ((100 * x.rps) / floorRounds[i]!.rps).toFixed(0)).join(' ');
    const errors = r.reduce((a, x) => a + x.errors + x.non2xx, 0);
    console.log(
      `${s.name.padEnd(51)} ${median(r.map((x) => x.rps)).toFixed(0).padStart(10)} ${median(r.map((x) => x.p50)).toFixed(2).padStart(8)} ${median(r.map((x) => x.p99)).toFixed(2).padStart(8)} ${`${(100 * ratio(s.name)).toFixed(1)}%`.padStart(8)} (rounds: ${per})  ${String(errors).padStart(6)}`,
    );
  }
  return { rounds, ratio };
}

/**
 * The raw model floor: median wall time of `session.run` on one onnxruntime thread (no spinning) for `n` rows
 * of one float32 input, in microseconds. `write(i, out, offset)` writes row i's features, as the service does.
 */
export async function rawModelMicros(
  onnxPath: string,
  /** `width` values per row; `shape` the per-row shape when it is not flat (an image: [3, 64, 64]). */
  input: { name: string; width: number; shape?: readonly number[] },
  write: (i: number, out: Float32Array, offset: number) => void,
  n: number,
  iterations: number,
): Promise<number> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(onnxPath, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const rows = new Float32Array(n * input.width);
  for (let i = 0; i < n; i++) write(i, rows, i * input.width);
  const feeds = { [input.name]: new ort.Tensor('float32', rows, [n, ...(input.shape ?? [input.width])]) };
  for (let i = 0; i < 50; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  await session.release();
  return median(times);
}
