import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { digestVersion } from '@predict/serving';
import { startTestService, type TestService } from '@predict/serving/testing';
import request from 'supertest';
import { createApp } from './app';
import { taxiEtaPredictor } from './predictor';
import { SERVICE_AREA } from './service-area';

const MODEL_DIR = path.resolve(__dirname, '../model');
const card = JSON.parse(readFileSync(path.join(MODEL_DIR, '1', 'model.json'), 'utf8')) as {
  metrics: Record<string, unknown>;
};
const evaluation = JSON.parse(readFileSync(path.join(MODEL_DIR, '1', 'evaluation.json'), 'utf8')) as { rows: { input: unknown; target: number }[] };

const midtownToJfk = { pickup: { lat: 40.758, lon: -73.9855 }, dropoff: { lat: 40.6413, lon: -73.7781 }, pickup_time: '2016-06-15T17:30' };

describe('taxi-eta service', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ predictor: taxiEtaPredictor, createApp });
  });
  afterAll(() => svc.stop());
  const post = (body: unknown) => request(svc.app).post('/v1/eta').send(body as object);
  const fields = (res: request.Response) => (res.body.error.details as { path: string }[]).map((d) => d.path);

  it('answers a trip with its ETA, an interval around it and the distance', async () => {
    const res = await post(midtownToJfk).expect(200);
    expect(res.body.model).toEqual({ name: 'taxi-eta', version: '1' });
    const [low, high] = res.body.eta_interval_seconds as [number, number];
    expect(res.body.eta_seconds).toBeGreaterThan(15 * 60); // midtown to JFK at rush hour is not quick
    expect(res.body.eta_seconds).toBeLessThan(3 * 3600);
    expect(low).toBeLessThanOrEqual(res.body.eta_seconds);
    expect(high).toBeGreaterThanOrEqual(res.body.eta_seconds);
    expect(res.body.distance_km).toBeCloseTo(21.6, 0);
  });

  it('takes longer at rush hour than at night for the same trip', async () => {
    const rush = await post({ ...midtownToJfk, pickup_time: '2016-06-15T17:30' }).expect(200);
    const night = await post({ ...midtownToJfk, pickup_time: '2016-06-15T03:30' }).expect(200);
    expect(rush.body.eta_seconds).toBeGreaterThan(night.body.eta_seconds);
  });

  it('reads a pickup_time with an offset as the same instant in New York', async () => {
    const local = await post({ ...midtownToJfk, pickup_time: '2016-06-15T17:30:00' }).expect(200);
    const utc = await post({ ...midtownToJfk, pickup_time: '2016-06-15T21:30:00Z' }).expect(200); // EDT = UTC-4
    expect(utc.body.eta_seconds).toBe(local.body.eta_seconds);
  });

  it('answers pickup equal to dropoff sensibly: distance 0, a finite short ETA', async () => {
    const here = { lat: 40.7527, lon: -73.9772 };
    const res = await post({ pickup: here, dropoff: here, pickup_time: '2016-06-15T12:00' }).expect(200);
    expect(res.body.distance_km).toBe(0);
    expect(Number.isFinite(res.body.eta_seconds)).toBe(true);
    expect(res.body.eta_seconds).toBeLessThan(30 * 60);
  });

  it('refuses invalid coordinates and times with 400 naming the field', async () => {
    expect(fields(await post({ ...midtownToJfk, pickup: { lat: 95, lon: -73.98 } }).expect(400))).toEqual(['pickup.lat']);
    expect(fields(await post({ ...midtownToJfk, dropoff: { lat: '40.6', lon: -73.78 } }).expect(400))).toEqual(['dropoff.lat']);
    expect(fields(await post({ ...midtownToJfk, pickup_time: '2016-02-30T10:00' }).expect(400))).toEqual(['pickup_time']);
    expect(fields(await post({ ...midtownToJfk, passenger_count: 0 }).expect(400))).toEqual(['passenger_count']);
    expect(fields(await post({ ...midtownToJfk, vendor_id: 3 }).expect(400))).toEqual(['vendor_id']);
    expect(fields(await post({ pickup: midtownToJfk.pickup }).expect(400))).toEqual(expect.arrayContaining(['dropoff', 'pickup_time']));
    // NaN is not JSON: the body is refused whole.
    const nan = await request(svc.app).post('/v1/eta').set('content-type', 'application/json').send('{"pickup":{"lat":NaN,"lon":-73.9}}').expect(400);
    expect(nan.body.error.code).toBe('invalid_json');
  });

  it('refuses a trip outside the service area with 422 naming the field', async () => {
    const boston = { lat: 42.3601, lon: -71.0589 };
    const res = await post({ ...midtownToJfk, dropoff: boston }).expect(422);
    expect(res.body.error).toMatchObject({ code: 'outside_service_area', details: { field: 'dropoff.lat' } });
    const west = await post({ ...midtownToJfk, pickup: { lat: 40.7, lon: SERVICE_AREA.minLon - 0.01 } }).expect(422);
    expect(west.body.error.details.field).toBe('pickup.lon');
  });

  it('answers a batch in order, each failure in place', async () => {
    const res = await request(svc.app)
      .post('/v1/eta/batch')
      .send({ instances: [midtownToJfk, { ...midtownToJfk, pickup: { lat: 95, lon: 0 } }, { ...midtownToJfk, dropoff: { lat: 42.36, lon: -71.06 } }] })
      .expect(200);
    expect(res.body).toMatchObject({ succeeded: 1, failed: 2 });
    expect(res.body.predictions[1].error.code).toBe('validation_error');
    expect(res.body.predictions[2].error.code).toBe('outside_service_area');
  });

  it("covers held-out trips with its interval as often as the card says", async () => {
    const rows = evaluation.rows;
    const res = await request(svc.app).post('/v1/eta/batch').send({ instances: rows.slice(0, 1000).map((r) => r.input) }).expect(200);
    let inside = 0;
    let answered = 0;
    (res.body.predictions as { eta_interval_seconds?: [number, number] }[]).forEach((p, i) => {
      if (!p.eta_interval_seconds) return;
      answered++;
      const target = (rows[i] as { target: number }).target;
      if (target >= p.eta_interval_seconds[0] && target <= p.eta_interval_seconds[1]) inside++;
    });
    expect(answered).toBeGreaterThan(900);
    const coverage = inside / answered;
    const claimed = card.metrics['interval_coverage'] as unknown as number;
    expect(claimed).toBeGreaterThan(0.7);
    expect(Math.abs(coverage - claimed)).toBeLessThan(0.05);
  });
});

describe('taxi-eta promotion gate', () => {
  let dir: string;
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('promotes a candidate that scores no worse on the same evaluation set by its card gate (RMSLE)', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'taxi-models-'));
    await cp(MODEL_DIR, dir, { recursive: true });
    await cp(path.join(dir, '1'), path.join(dir, '2'), { recursive: true });
    const cardFile = path.join(dir, '2', 'model.json');
    const candidate = JSON.parse(await readFile(cardFile, 'utf8')) as Record<string, unknown>;
    await writeFile(cardFile, JSON.stringify({ ...candidate, version: '2', candidate: true, files: await digestVersion(path.join(dir, '2')) }));
    const svc = await startTestService({ predictor: taxiEtaPredictor, createApp, env: { MODEL_DIR: dir } });
    try {
      expect(svc.runtime.model().version).toBe('1'); // the candidate does not serve by merely existing
      const res = await request(svc.app).post('/admin/model/promote').send({ reason: 'same model, retrained' }).expect(200);
      expect(res.body).toMatchObject({ from: '1', to: '2', forced: false, gate: { metric: 'rmsle', direction: 'lower' } });
      expect(res.body.gate.candidate).toBeCloseTo(res.body.gate.active, 10);
      expect(svc.runtime.model().version).toBe('2');
    } finally {
      await svc.stop();
    }
  });
});
