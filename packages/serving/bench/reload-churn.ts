/**
 * Worker mode under churn, on loopback: 100 reloads (the serving version again, the other version, and broken
 * versions that must be refused) and one worker thread terminated, while a load generator sends predictions.
 * Reports counts: every prediction must answer 200 with the value of the version it names. Not a test: it
 * prints figures and exits 1 if any prediction failed or any reload answered other than expected.
 *
 *   cd packages/serving && node --import tsx bench/reload-churn.ts
 *
 * RELOADS (100), WORKERS (2), CONNECTIONS (16), MAX_REQUESTS (200000: the generator's bound) tune it.
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { WorkerPool } from '../src/inference/worker-pool';
import { LINEAR_MODEL_DIR, linearPredictor } from '../src/testing/linear-predictor';
import { startTestService } from '../src/testing/test-service';

const RELOADS = Number(process.env['RELOADS'] ?? 100);
const WORKERS = process.env['WORKERS'] ?? '2';
const CONNECTIONS = Number(process.env['CONNECTIONS'] ?? 16);
const MAX_REQUESTS = Number(process.env['MAX_REQUESTS'] ?? 200_000);

const expected: Record<string, (a: number, b: number, c: number) => number> = {
  '1': (a, b, c) => a + 2 * b + 3 * c + 0.5,
  '2': (a, b, c) => -a + 0.5 * b + 0.25 * c - 0.5,
};

async function editCard(dir: string, edit: (card: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(dir, 'model.json');
  const card = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(card);
  await writeFile(file, JSON.stringify(card, null, 2));
}

/** Versions 1 and 2 of the fixture, 3: an artifact changed after its card was written, 4: a graph onnxruntime refuses (honestly hashed). */
async function modelDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reload-churn-'));
  await cp(LINEAR_MODEL_DIR, dir, { recursive: true });
  await cp(path.join(dir, '1'), path.join(dir, '3'), { recursive: true });
  await writeFile(path.join(dir, '3', 'features.json'), '{"scale": 1}');
  const sealed = createHash('sha256').update('{"scale": 1}').digest('hex');
  await editCard(path.join(dir, '3'), (card) => Object.assign(card, { version: '3', files: { ...(card['files'] as object), 'features.json': sealed } }));
  await writeFile(path.join(dir, '3', 'features.json'), '{"scale": 2}');
  await cp(path.join(dir, '1'), path.join(dir, '4'), { recursive: true });
  const garbage = Buffer.from('not an onnx graph, hashed honestly');
  await writeFile(path.join(dir, '4', 'model.onnx'), garbage);
  const sha = createHash('sha256').update(garbage).digest('hex');
  await editCard(path.join(dir, '4'), (card) => Object.assign(card, { version: '4', files: { 'model.onnx': sha }, onnx_sha256: sha }));
  return dir;
}

async function main(): Promise<void> {
  const dir = await modelDir();
  const svc = await startTestService({
    predictor: linearPredictor,
    env: { MODEL_DIR: dir, MODEL_VERSION: '1', INFERENCE_MODE: 'worker', INFERENCE_WORKERS: WORKERS, MAX_BATCH_DELAY_MS: '1', LOG_LEVEL: 'error' },
    start: false,
  });
  // Listening first, as runService does: the pool's threads are unref'd and hold no process open.
  const server = svc.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  await svc.runtime.start();
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pool = svc.runtime.workerPool as WorkerPool;

  const predictions = { sent: 0, ok: 0, wrongValue: 0, fromBrokenVersion: 0, failed: new Map<string, number>() };
  let churning = true;
  const client = async () => {
    while (churning && predictions.sent < MAX_REQUESTS) {
      const i = predictions.sent++;
      const input = { a: i % 7, b: (i % 5) - 2, c: i % 3 };
      const res = await fetch(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
      const body = (await res.json()) as { y: number; model: { version: string }; error?: { message: string } };
      if (res.status !== 200) {
        const key = `${res.status} ${body.error?.message ?? ''}`;
        predictions.failed.set(key, (predictions.failed.get(key) ?? 0) + 1);
        continue;
      }
      const want = expected[body.model.version];
      if (!want) predictions.fromBrokenVersion++;
      else if (Math.abs(body.y - want(input.a, input.b, input.c)) > 1e-4) predictions.wrongValue++;
      else predictions.ok++;
    }
  };
  const load = Promise.all(Array.from({ length: CONNECTIONS }, client));

  const reloads = { same: 0, other: 0, broken: 0, unexpected: [] as string[] };
  let serving = '1';
  let killed = false;
  for (let i = 0; i < RELOADS; i++) {
    const kind = i % 3 === 0 ? 'same' : i % 3 === 1 ? 'other' : 'broken';
    const version = kind === 'same' ? serving : kind === 'other' ? (serving === '1' ? '2' : '1') : i % 2 ? '3' : '4';
    const res = await fetch(`${base}/admin/model/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version }) });
    await res.text();
    const want = kind === 'broken' ? 422 : 200;
    if (res.status === want) reloads[kind]++;
    else reloads.unexpected.push(`${kind} ${version}: ${res.status}`);
    if (res.status === 200) serving = version;
    if (i === Math.floor(RELOADS / 2)) {
      await pool.worker(0)?.terminate();
      killed = true;
    }
  }
  // Keep the load on until the killed thread's replacement is in rotation again.
  while (pool.status().some((s) => s.state !== 'ready')) await new Promise((resolve) => setTimeout(resolve, 10));
  churning = false;
  await load;
  server.close();

  const failed = [...predictions.failed.values()].reduce((a, b) => a + b, 0);
  console.log(
    JSON.stringify(
      {
        workers: Number(WORKERS),
        connections: CONNECTIONS,
        reloads: { total: RELOADS, same_version_ok: reloads.same, other_version_ok: reloads.other, broken_refused_422: reloads.broken, unexpected: reloads.unexpected },
        thread_killed: killed,
        thread_spawns: pool.status().map((s) => s.spawns),
        predictions: { sent: predictions.sent, ok_200: predictions.ok, failed, wrong_value: predictions.wrongValue, from_broken_version: predictions.fromBrokenVersion, failures: Object.fromEntries(predictions.failed) },
      },
      null,
      2,
    ),
  );
  if (failed > 0 || predictions.wrongValue > 0 || predictions.fromBrokenVersion > 0 || reloads.unexpected.length > 0) process.exitCode = 1;
  await svc.stop();
  console.log('stopped');
  await rm(dir, { recursive: true, force: true });
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
