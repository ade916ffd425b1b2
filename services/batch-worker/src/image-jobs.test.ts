import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { JobFailedError, QUEUES, type ResultLine } from '@predict/jobs';
import { createLogger, createServingMetrics, Registry } from '@predict/serving';
import { eventually, startTestService, testRedisUrl, type TestService } from '@predict/serving/testing';
import { vehicleParts } from '@predict/vehicle-classifier/app';
import { loadConfig as loadVehicleConfig } from '@predict/vehicle-classifier/config';
import { vehiclePredictor } from '@predict/vehicle-classifier/predictor';
import request from 'supertest';
import { loadConfig } from './config';
import { createServices } from './services';
import { testProducer, uniqueQueuePrefix } from './test-support';
import { WorkerTier } from './worker-tier';

/**
 * Image jobs end to end with the real vehicle-classifier model: the worker tier runs the predictor built by
 * createServices (as main.ts does) on a real Redis; the service's own app (startTestService with its parts)
 * gives the reference answers (POST /v1/classify/batch) and takes jobs over HTTP. Files live in a temporary
 * JOBS_IMAGE_ROOT, with traps around it.
 */
jest.setTimeout(240_000);

const prefix = uniqueQueuePrefix('img');
const redisUrl = testRedisUrl();
/** Small, so an oversize file is cheap to make; every evaluation upload is under it. */
const MAX_IMAGE_BYTES = 16_384;
const EVALUATION = path.resolve(__dirname, '../../vehicle-classifier/model/1/evaluation.json');

let dir: string;
let root: string;
let service: TestService;
let tier: WorkerTier;
let producer: Awaited<ReturnType<typeof testProducer>>;
let images: Buffer[];

type Classification = { label: string; confidence: number; top_k: { label: string; probability: number }[] };

/** What POST /v1/classify/batch answers for these images (every class listed), 16 per request. */
async function classifyBatch(files: readonly Buffer[]): Promise<Classification[]> {
  const out: Classification[] = [];
  for (let i = 0; i < files.length; i += 16) {
    const instances = files.slice(i, i + 16).map((b) => ({ image_base64: b.toString('base64') }));
    const res = await request(service.app).post('/v1/classify/batch?top_k=6').send({ instances }).expect(200);
    expect(res.body.failed).toBe(0);
    out.push(...(res.body.predictions as Classification[]));
  }
  return out;
}

/** The same classification, row for row (probabilities to 1e-6: another batch composition may move the last bits). */
function expectSame(output: Record<string, unknown> | undefined, want: Classification): void {
  const got = output as Classification;
  expect(got.label).toBe(want.label);
  expect(got.top_k.map((e) => e.label)).toEqual(want.top_k.map((e) => e.label));
  got.top_k.forEach((e, k) => expect(e.probability).toBeCloseTo(want.top_k[k]!.probability, 6));
  expect(got.confidence).toBeCloseTo(want.confidence, 6);
}

async function results(jobId: string): Promise<ResultLine[]> {
  const lines: ResultLine[] = [];
  for await (const line of producer.producer.readResults(jobId)) lines.push(line);
  return lines;
}

const errorOf = (line: ResultLine | undefined) => (line && 'error' in line ? line.error : undefined);
const outputOf = (line: ResultLine | undefined) => (line && 'output' in line ? line.output : undefined);

beforeAll(async () => {
  const rows = (JSON.parse(await readFile(EVALUATION, 'utf8')) as { rows: { input: { image_base64: string } }[] }).rows;
  // Every third evaluation upload: 20 images of every class, each under MAX_IMAGE_BYTES.
  images = rows.filter((_, i) => i % 3 === 0).map((r) => Buffer.from(r.input.image_base64, 'base64'));
  expect(images.every((b) => b.length <= MAX_IMAGE_BYTES)).toBe(true);

  dir = await mkdtemp(path.join(tmpdir(), 'image-jobs-'));
  root = path.join(dir, 'volume');
  await mkdir(path.join(root, 'cars', 'empty-dir'), { recursive: true });
  await Promise.all(images.map((b, i) => writeFile(path.join(root, 'cars', `${String(i).padStart(3, '0')}.jpg`), b)));
  await writeFile(path.join(dir, 'outside.jpg'), images[0]!); // a real image, but outside the root
  await symlink(path.join(dir, 'outside.jpg'), path.join(root, 'escape.jpg')); // a symlink out of the root
  await symlink(path.join(root, 'cars', '001.jpg'), path.join(root, 'alias.jpg')); // a symlink within it: fine
  await writeFile(path.join(root, 'big.jpg'), Buffer.concat([images[0]!, Buffer.alloc(MAX_IMAGE_BYTES)]));
  await writeFile(path.join(root, 'truncated.jpg'), images[1]!.subarray(0, Math.floor(images[1]!.length / 2)));
  await writeFile(path.join(root, 'notes.jpg'), 'not a photo\n');

  producer = await testProducer(prefix, QUEUES.vehicleClassifier);
  const env = {
    REDIS_URL: redisUrl,
    JOBS_PREFIX: prefix,
    MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES),
    RESULT_CACHE_TTL_SECONDS: '0',
    MODEL_POLL_INTERVAL_MS: '0',
    LOG_LEVEL: 'warn',
    ACCESS_LOG: 'false',
    NODE_ENV: 'test',
  };
  const vehicleConfig = loadVehicleConfig(env);
  service = await startTestService({
    predictor: vehiclePredictor({ maxBytes: vehicleConfig.MAX_IMAGE_BYTES, maxPixels: vehicleConfig.MAX_IMAGE_PIXELS }),
    service: 'vehicle-classifier',
    env,
    loadConfig: loadVehicleConfig,
    parts: vehicleParts(vehicleConfig),
  });
  await eventually(() => service.jobs?.redis.ready === true, 'the jobs Redis connection', 20_000);

  const config = loadConfig({ ...env, INFERENCE_MODE: 'worker', INFERENCE_WORKERS: '1', WORKER_QUEUES: QUEUES.vehicleClassifier, JOBS_IMAGE_ROOT: root, JOBS_IMAGE_MAX_PATHS: '100' });
  tier = new WorkerTier({
    config,
    services: createServices(config),
    logger: createLogger({ service: 'batch-worker-test', level: 'error' }),
    metrics: createServingMetrics(new Registry(), { defaultMetrics: false }),
  });
  await tier.start();
}, 240_000);

afterAll(async () => {
  await tier?.stop(10_000);
  await service?.stop();
  await producer?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

test('inline images (in the payload, and through POST /v1/jobs) complete, equal to /v1/classify/batch row for row; bad images answered in place', async () => {
  const want = await classifyBatch(images);
  const bad = [
    { image_base64: Buffer.concat([images[0]!, Buffer.alloc(MAX_IMAGE_BYTES)]).toString('base64') }, // over MAX_IMAGE_BYTES
    { image_base64: images[1]!.subarray(0, Math.floor(images[1]!.length / 2)).toString('base64') }, // truncated JPEG
    { image_base64: Buffer.from('not a photo\n').toString('base64') }, // text
    { image_base64: 'this is not base64!' },
    { image_url: 'http://example.com/car.jpg' },
  ];
  const instances = [...images.map((b) => ({ image_base64: b.toString('base64') })), ...bad];
  const check = (lines: ResultLine[]) => {
    expect(lines.map((l) => l.index)).toEqual(instances.map((_, i) => i));
    images.forEach((_, i) => expectSame(outputOf(lines[i]), want[i]!));
    const n = images.length;
    expect(errorOf(lines[n])).toMatchObject({ code: 'payload_too_large', message: expect.stringContaining('MAX_IMAGE_BYTES') });
    expect(errorOf(lines[n + 1])).toMatchObject({ code: 'invalid_image', message: expect.stringContaining('jpeg') });
    expect(errorOf(lines[n + 2])).toMatchObject({ code: 'invalid_image', message: expect.stringContaining('not a JPEG, PNG or WebP') });
    expect(errorOf(lines[n + 3])).toMatchObject({ code: 'validation_error' });
    expect(errorOf(lines[n + 4])).toMatchObject({ code: 'validation_error' });
  };

  // In the BullMQ payload: chunk_rows 10,000 asked, 16 used (the queue's bound).
  const { jobId } = await producer.producer.enqueueInstances(instances);
  const summary = await producer.producer.waitForJob(jobId, { timeoutMs: 180_000 });
  expect(summary).toMatchObject({ rows: instances.length, ok: images.length, failed: bad.length, chunks: 2, model: { name: 'vehicle-classifier' } });
  check(await results(jobId));

  // Over HTTP: the service streams the rows into 16-row chunks (its JOBS_CHUNK_ROWS default).
  const submitted = await request(service.app).post('/v1/jobs').send({ instances }).expect(202);
  const viaHttp = await producer.producer.waitForJob(submitted.body.job_id as string, { timeoutMs: 180_000 });
  expect(viaHttp).toMatchObject({ rows: instances.length, ok: images.length, chunks: 2 });
  check(await results(submitted.body.job_id as string));
});

test('the images source reads files under JOBS_IMAGE_ROOT, equal to /v1/classify/batch; traversal, symlinks out, non-files, oversize, corrupt and missing files answered per row', async () => {
  const good = images.map((_, i) => `cars/${String(i).padStart(3, '0')}.jpg`);
  const traps: [string, string][] = [
    ['../outside.jpg', 'invalid_path'],
    ['cars/../../outside.jpg', 'invalid_path'],
    [path.join(dir, 'outside.jpg'), 'invalid_path'], // absolute
    ['escape.jpg', 'invalid_path'], // symlink out of the root
    ['big.jpg', 'payload_too_large'],
    ['truncated.jpg', 'invalid_image'],
    ['notes.jpg', 'invalid_image'],
    ['cars/empty-dir', 'not_a_file'],
    ['cars/missing.jpg', 'image_not_found'],
  ];
  const paths = [...good, 'alias.jpg', ...traps.map(([p]) => p)];
  const want = await classifyBatch([...images, images[1]!]);
  const { jobId } = await producer.producer.enqueue({ kind: 'source', source: 'images', params: { paths } });
  const summary = await producer.producer.waitForJob(jobId, { timeoutMs: 180_000 });
  expect(summary).toMatchObject({ rows: paths.length, ok: good.length + 1, failed: traps.length, chunks: 2 });
  const lines = await results(jobId);
  expect(lines.map((l) => l.index)).toEqual(paths.map((_, i) => i));
  want.forEach((w, i) => expectSame(outputOf(lines[i]), w));
  traps.forEach(([file, code], k) => {
    const index = good.length + 1 + k;
    // What the source refuses names the path; what the decoder refuses reads as an upload's 400 (row index = paths index).
    const message = code === 'invalid_image' ? expect.stringContaining('image: ') : expect.stringContaining(`paths[${index}] "${file}"`);
    expect({ file, error: errorOf(lines[index]) }).toMatchObject({ file, error: { code, message } });
  });
  expect(errorOf(lines[good.length + 4])?.message).toContain('outside JOBS_IMAGE_ROOT');

  // Params the source refuses fail the job at once (no retries), naming them.
  for (const params of [{ paths: [] }, { paths: Array.from({ length: 101 }, () => 'a.jpg') }, { dir: 'cars' }]) {
    const refused = await producer.producer.enqueue({ kind: 'source', source: 'images', params });
    const error = await producer.producer.waitForJob(refused.jobId, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect((error as Error).message).toContain('params');
    expect((await producer.producer.getJob(refused.jobId))?.attemptsMade).toBe(1);
  }
});
