/**
 * WORKERS=1 against WORKERS=2 (node:cluster, one port) on the fixture model, on loopback: rounds alternate
 * between the two so both see the same background load. Prints requests/s and latency per round and the
 * median of the per-round ratios. Not a test; on a shared 2-core machine the load generator (autocannon, in this process)
 * competes with the service for the same cores, so expect the gain to be well under 2×.
 *
 *   cd packages/serving && node --conditions=development --import tsx bench/cluster-workers.ts
 *
 * BENCH_SECONDS (5), BENCH_ROUNDS (5), BENCH_CONNECTIONS (32), BENCH_PORT (7350) tune it.
 */
import path from 'node:path';
import { CONNECTIONS, load, median, ROUNDS, SECONDS, startServer, stop, type Load } from '@predict/bench-kit';

const PORT = Number(process.env['BENCH_PORT'] ?? 7350);
const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'src/testing/linear-service-main.ts');
const BODY = JSON.stringify({ a: 1, b: 2, c: 4 });

async function round(workers: number): Promise<Load> {
  const child = await startServer({
    name: `cluster-workers-${workers}`,
    args: ['--conditions=development', '--import', 'tsx', MAIN],
    env: { WORKERS: String(workers), ACCESS_LOG: 'false', LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '0' },
    port: PORT,
    ready: '/health/ready',
    pinned: false,
    cwd: ROOT,
  });
  try {
    // With two workers readiness answers once the first is ready: warm both before measuring.
    await load(`http://127.0.0.1:${PORT}/v1/predict`, BODY, 1, CONNECTIONS);
    return await load(`http://127.0.0.1:${PORT}/v1/predict`, BODY, SECONDS, CONNECTIONS);
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  const results = new Map<number, Load[]>([
    [1, []],
    [2, []],
  ]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const workers of [1, 2]) {
      const result = await round(workers);
      results.get(workers)?.push(result);
      console.log(`round ${r + 1} WORKERS=${workers}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors}, non-2xx ${result.non2xx}`);
    }
  }
  const rps = (workers: number) => (results.get(workers) ?? []).map((l) => l.rps);
  // Paired by round (both ran back to back under the same background load): the median of the ratios.
  const ratios = rps(2).map((two, i) => two / (rps(1)[i] ?? Number.NaN));
  console.log(
    `median: WORKERS=1 ${median(rps(1)).toFixed(0)} req/s, WORKERS=2 ${median(rps(2)).toFixed(0)} req/s; ` +
      `per-round ratios ${ratios.map((r) => r.toFixed(2)).join(' ')}, median ${median(ratios).toFixed(2)} (${SECONDS} s × ${ROUNDS} rounds, ${CONNECTIONS} connections)`,
  );
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
