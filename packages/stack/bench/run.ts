/**
 * `pnpm bench` for the edge: (a) nginx's cost — one flight-delay replica direct vs the same replica through
 * nginx; (b) CPU time per request of a replica and of nginx's worker (from /proc counters over a run), and the
 * rps they project for N replicas on an N+1-core host; (c) 1 vs 2 replicas behind nginx, as measured. All in
 * one run, scenarios alternated in rounds (bench-kit). Not a test: nothing here passes or fails.
 *
 * This machine has 2 cores shared by autocannon, nginx and the replicas (nothing is pinned): (a) and (c) are
 * bounded by the box; (b) is the figure that carries to a bigger host.
 */
import { readFileSync, rmSync } from 'node:fs';
import { CONNECTIONS, ROUNDS, SECONDS, compareToFloor, load, median } from '@predict/bench-kit';
import { answered } from '../src/monitoring-names';
import { launchNginx } from '../src/nginx-process';
import { localNginxView, renderNginx } from '../src/nginx-config';
import { loadServices } from '../src/services';
import { Stack } from '../src/stack';
import { isRoot } from '../src/system-tools';

const BASE = Number(process.env['BENCH_PORT_BASE'] ?? 7281);
const NGINX_ONE = BASE + 10;
const NGINX_TWO = BASE + 11;
const BODY = JSON.stringify({ origin: 'ORD', destination: 'LAX', scheduled_departure: '2001-06-15T17:30' });
const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** nginx's worker processes: the master's children. */
function workers(masterPid: number): number[] {
  return readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** POST /v1/predict answers (200) a replica has counted on its /metrics. */
const predictions = async (port: number) => answered(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), '/v1/predict');

async function main(): Promise<void> {
  const services = loadServices();
  const replicas = new Map(services.map((s) => [s.name, s.name === 'flight-delay' ? 2 : 0]));
  const stack = await Stack.start({ replicas, portBase: BASE, noNginx: true, streamLogs: false, log: () => undefined });
  const nginxes: { child: import('node:child_process').ChildProcess }[] = [];
  try {
    const [one, two] = stack.replicas;
    const fd = one!.service;
    for (const [port, ports] of [[NGINX_ONE, [one!.port]], [NGINX_TWO, [one!.port, two!.port]]] as const) {
      const view = localNginxView({
        replicas: [{ service: fd, ports: [...ports] }],
        port,
        scratchDir: stack.scratchDir,
        rateLimit: { rate: 1_000_000, burst: 1_000_000 },
        ...(isRoot() ? { user: 'nobody nogroup' } : {}),
      });
      // Two nginx in one scratch directory: their own pid files and logs.
      view.pidFile = `${stack.scratchDir}/nginx-${port}.pid`;
      view.accessLog = `${stack.scratchDir}/nginx-${port}-access.log`;
      view.errorLog = `${stack.scratchDir}/nginx-${port}-error.log`;
      nginxes.push(await launchNginx({ config: renderNginx(view), scratchDir: stack.scratchDir, port, name: `nginx-${port}` }));
    }
    console.log(`edge bench: flight-delay POST /v1/predict, ${CONNECTIONS} connections, ${SECONDS}s × ${ROUNDS} rounds per scenario; 2 shared cores, nothing pinned`);
    const { rounds, ratio } = await compareToFloor([
      { name: '(a) one replica, direct (floor)', url: `http://127.0.0.1:${one!.port}/v1/predict`, body: BODY },
      { name: '(a) the same replica through nginx', url: `http://127.0.0.1:${NGINX_ONE}/flight-delay/v1/predict`, body: BODY },
      { name: '(c) 2 replicas through nginx', url: `http://127.0.0.1:${NGINX_TWO}/flight-delay/v1/predict`, body: BODY },
    ]);
    const p = (name: string, key: 'p50' | 'p99') => median(rounds.get(name)!.map((r) => r[key]));
    console.log(
      `\n(a) through nginx: ${(100 * ratio('(a) the same replica through nginx')).toFixed(1)} % of direct rps (target ≥ 85 %); added latency p50 ${(p('(a) the same replica through nginx', 'p50') - p('(a) one replica, direct (floor)', 'p50')).toFixed(2)} ms, p99 ${(p('(a) the same replica through nginx', 'p99') - p('(a) one replica, direct (floor)', 'p99')).toFixed(2)} ms`,
    );
    console.log(`(c) 2 replicas vs 1 through nginx: ${(ratio('(c) 2 replicas through nginx') / ratio('(a) the same replica through nginx')).toFixed(2)}× (bounded by 2 cores shared with the load generator)`);

    // (b) CPU per request, from the processes' own counters over one run through nginx to one replica.
    const replicaPid = one!.process!.pid!;
    const nginxPids = workers(nginxes[0]!.child.pid!);
    const before = { replica: cpuSeconds(replicaPid), nginx: nginxPids.reduce((a, pid) => a + cpuSeconds(pid), 0), requests: await predictions(one!.port) };
    const run = await load(`http://127.0.0.1:${NGINX_ONE}/flight-delay/v1/predict`, BODY, SECONDS * 2);
    const requests = (await predictions(one!.port)) - before.requests;
    const replicaCpu = (cpuSeconds(replicaPid) - before.replica) / requests;
    const nginxCpu = (nginxPids.reduce((a, pid) => a + cpuSeconds(pid), 0) - before.nginx) / requests;
    console.log(
      `\n(b) over ${requests} requests through nginx (${run.rps.toFixed(0)} rps, errors+non2xx ${run.errors + run.non2xx}): CPU per request — replica ${(replicaCpu * 1e6).toFixed(0)} µs, nginx worker ${(nginxCpu * 1e6).toFixed(0)} µs`,
    );
    for (const n of [1, 2, 4, 8, 16]) {
      const projected = Math.min(n / replicaCpu, 1 / nginxCpu);
      console.log(`    ${n} replica(s) on ${n + 1} cores (one for nginx, load generated elsewhere): ~${projected.toFixed(0)} rps${projected === 1 / nginxCpu ? ' (nginx-bound: add a worker core)' : ''}`);
    }
  } finally {
    await Promise.all(nginxes.map((n) => new Promise((resolve) => (n.child.once('exit', resolve), n.child.kill('SIGQUIT')))));
    await stack.stop();
    rmSync(stack.scratchDir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
