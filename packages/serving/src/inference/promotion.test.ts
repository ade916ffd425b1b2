import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { eventually } from '../testing/eventually';
import { LINEAR_MODEL_DIR, linearPredictor } from '../testing/linear-predictor';
import { startTestService } from '../testing/test-service';
import { digestVersion } from './model-repository';
import { ModelState } from './model-state';

const y1 = (a: number, b: number, c: number) => a + 2 * b + 3 * c + 0.5;
const y2 = (a: number, b: number, c: number) => -a + 0.5 * b + 0.25 * c - 0.5;
const INPUTS = Array.from({ length: 40 }, (_, i) => ({ a: (i % 7) - 3, b: (i % 5) / 2, c: i % 3 }));

/**
 * A copy of the linear fixture where version 2 is a candidate carrying a gate (RMSE on `y`, lower is better)
 * and an evaluation set whose targets follow `truth` — so a test decides which version is better.
 */
async function repositoryWhereTruthIs(truth: (a: number, b: number, c: number) => number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'promote-'));
  await cp(LINEAR_MODEL_DIR, dir, { recursive: true });
  const cardFile = path.join(dir, '2', 'model.json');
  const card = JSON.parse(await readFile(cardFile, 'utf8')) as Record<string, unknown>;
  const evaluation = { rows: INPUTS.map((x) => ({ input: x, target: truth(x.a, x.b, x.c) })) };
  await writeFile(path.join(dir, '2', 'evaluation.json'), JSON.stringify(evaluation));
  const files = await digestVersion(path.join(dir, '2')); // the version as training would write it
  await writeFile(cardFile, JSON.stringify({ ...card, files, candidate: true, gate: { metric: 'rmse', direction: 'lower', prediction: 'y' } }));
  return dir;
}

const ADMIN = { API_KEYS_ADMIN: 'ops:admin-key-0123456789ab' };
const admin = (r: request.Test) => r.set('X-API-Key', 'admin-key-0123456789ab');

describe('candidate → promote → rollback', () => {
  let dir: string;
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('serves the newest version that is not a candidate while no version is active', async () => {
    dir = await repositoryWhereTruthIs(y2);
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir } });
    try {
      expect(svc.runtime.model().version).toBe('1');
      const reload = await request(svc.app).post('/admin/model/reload').send({}).expect(200);
      expect(reload.body.current.version).toBe('1'); // reload {} re-reads the pointer, not the newest directory
    } finally {
      await svc.stop();
    }
  });

  it('refuses a worse candidate and changes nothing', async () => {
    dir = await repositoryWhereTruthIs(y1); // version 1 is exact, the candidate is off
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, ...ADMIN } });
    try {
      const res = await admin(request(svc.app).post('/admin/model/promote')).send({ version: '2' }).expect(409);
      expect(res.body.error).toMatchObject({ code: 'promotion_refused', details: { gate: { metric: 'rmse', active: 0, rows: INPUTS.length } } });
      expect(res.body.error.details.gate.candidate).toBeGreaterThan(0);
      expect(await new ModelState(dir).active()).toBeUndefined();
      expect(await new ModelState(dir).history()).toEqual([]);
      expect(svc.runtime.model().version).toBe('1');
    } finally {
      await svc.stop();
    }
  });

  it('promotes a better candidate (recording who, when, why and both scores), then rolls back', async () => {
    dir = await repositoryWhereTruthIs(y2);
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, ...ADMIN } });
    try {
      const promoted = await admin(request(svc.app).post('/admin/model/promote')).send({ reason: 'retrained on May' }).expect(200);
      expect(promoted.body).toMatchObject({ action: 'promote', from: '1', to: '2', forced: false, actor: 'ops', reason: 'retrained on May', gate: { candidate: 0 } });
      expect(promoted.body.gate.active).toBeGreaterThan(0);
      expect(await new ModelState(dir).active()).toBe('2');
      expect(svc.runtime.model().version).toBe('2');
      const out = await admin(request(svc.app).post('/v1/predict')).send({ a: 1, b: 1, c: 1 }).expect(200);
      expect(out.body.y).toBeCloseTo(y2(1, 1, 1), 5);

      const back = await admin(request(svc.app).post('/admin/model/rollback')).send({}).expect(200);
      expect(back.body).toMatchObject({ action: 'rollback', from: '2', to: '1', actor: 'ops' });
      expect(await new ModelState(dir).active()).toBe('1');
      expect(svc.runtime.model().version).toBe('1');
      const versions = await admin(request(svc.app).get('/admin/model/versions')).expect(200);
      expect(versions.body).toMatchObject({ active: '1', serving: '1' });
      expect(versions.body.history.map((e: { action: string }) => e.action)).toEqual(['promote', 'rollback']);
    } finally {
      await svc.stop();
    }
  });

  it('promotes a worse candidate only with force, and records it as forced', async () => {
    dir = await repositoryWhereTruthIs(y1);
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, ...ADMIN } });
    try {
      const res = await admin(request(svc.app).post('/admin/model/promote')).send({ version: '2', force: true, reason: 'hotfix' }).expect(200);
      expect(res.body).toMatchObject({ to: '2', forced: true });
      expect((await new ModelState(dir).history())[0]).toMatchObject({ forced: true, reason: 'hotfix' });
    } finally {
      await svc.stop();
    }
  });

  it('cannot promote a candidate whose graph is corrupt: 422, and nothing changes', async () => {
    dir = await repositoryWhereTruthIs(y2);
    await writeFile(path.join(dir, '2', 'model.onnx'), Buffer.from('corrupt bytes'));
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, ...ADMIN } });
    try {
      const res = await admin(request(svc.app).post('/admin/model/promote')).send({ version: '2', force: true }).expect(422);
      expect(res.body.error.code).toBe('model_load_failed');
      expect(await new ModelState(dir).active()).toBeUndefined();
      expect(await new ModelState(dir).history()).toEqual([]);
      expect(svc.runtime.model().version).toBe('1');
    } finally {
      await svc.stop();
    }
  });

  it('two instances sharing one model directory both switch after a promotion through one, under load, with zero failed requests', async () => {
    dir = await repositoryWhereTruthIs(y2);
    const env = { MODEL_DIR: dir, MODEL_POLL_INTERVAL_MS: '50', ...ADMIN };
    const a = await startTestService({ predictor: linearPredictor, env });
    const b = await startTestService({ predictor: linearPredictor, env });
    const servers: Server[] = [a.app.listen(0), b.app.listen(0)];
    const statuses: number[] = [];
    const seen = [new Set<string>(), new Set<string>()];
    let done = false;
    try {
      const load = Promise.all(
        servers.map(async (server, k) => {
          while (!done) {
            const wave = await Promise.all(Array.from({ length: 8 }, () => admin(request(server).post('/v1/predict')).send({ a: 1, b: 2, c: 3 })));
            for (const r of wave) {
              statuses.push(r.status);
              if (r.status === 200) seen[k]?.add(r.body.model.version as string);
            }
          }
        }),
      );
      await eventually(() => statuses.length >= 32, 'requests before the promotion');
      await admin(request(servers[0] as Server).post('/admin/model/promote')).send({}).expect(200);
      await eventually(() => b.runtime.ready && b.runtime.model().version === '2', 'the other instance to follow the pointer');
      await eventually(() => (seen[1] as Set<string>).has('2'), 'answers from version 2 on the other instance');
      done = true;
      await load;
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect(seen[0]).toEqual(new Set(['1', '2']));
      expect(seen[1]).toEqual(new Set(['1', '2']));
    } finally {
      done = true;
      servers.forEach((s) => s.close());
      await a.stop();
      await b.stop();
    }
  });

  it('a pointer to a version that fails to load leaves the old one serving', async () => {
    dir = await repositoryWhereTruthIs(y2);
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: dir, MODEL_POLL_INTERVAL_MS: '20' } });
    try {
      await writeFile(path.join(dir, '2', 'model.onnx'), Buffer.from('corrupt bytes'));
      await new ModelState(dir).setActive('2'); // as a crashed or careless writer might leave it
      await eventually(() => svc.logs.lines.some((l) => l['message'] === 'the active version could not be loaded; the previous version keeps serving'), 'the failed load to be logged');
      expect(svc.runtime.model().version).toBe('1');
      await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(200);
    } finally {
      await svc.stop();
    }
  });
});
