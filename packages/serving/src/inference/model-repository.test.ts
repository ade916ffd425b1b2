import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { ModelLoadError } from '../errors/model-load-error';
import { LINEAR_MODEL_DIR, linearPredictor } from '../testing/linear-predictor';
import { startTestService } from '../testing/test-service';
import { modelCardSchema } from './model-card';
import { ModelRepository } from './model-repository';

const FIXTURES = path.resolve(__dirname, '../../fixtures/models');

/** sha256 of every file of a version directory but model.json, computed here, apart from the code under test. */
async function digests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    if (name !== 'model.json') out[name] = createHash('sha256').update(await readFile(path.join(dir, name))).digest('hex');
  }
  return out;
}

async function editCard(dir: string, edit: (card: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(dir, 'model.json');
  const card = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(card);
  await writeFile(file, JSON.stringify(card, null, 2));
}

/** Rewrites a version's card so that `files` lists what the directory holds now. */
const seal = async (dir: string) => {
  const files = await digests(dir);
  await editCard(dir, (card) => (card['files'] = files));
};

describe('ModelRepository: whole-version integrity', () => {
  let root: string;
  let v1: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'repository-'));
    await cp(LINEAR_MODEL_DIR, root, { recursive: true });
    v1 = path.join(root, '1');
    await writeFile(path.join(v1, 'features.json'), JSON.stringify({ scale: [1, 2, 3] }));
    await seal(v1);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it.each([
    ['linear', '1'],
    ['linear', '2'],
    ['two-io', '1'],
    ['contrib', '1'],
  ])("opens fixture %s version %s, whose card lists every file of the version with its sha256", async (model, version) => {
    const dir = path.join(FIXTURES, model);
    const { card, sha256 } = await new ModelRepository(dir).open(version);
    expect(card.files).toEqual(await digests(path.join(dir, version)));
    expect(card.onnx_sha256).toBe(sha256);
  });

  it('opens a version whose artifacts match its card', async () => {
    const { card } = await new ModelRepository(root).open('1');
    expect(Object.keys(card.files).sort()).toEqual(['features.json', 'model.onnx']);
  });

  it('refuses a version whose artifact was changed after its card was written, naming the file', async () => {
    const sealed = (await digests(v1))['features.json'];
    await writeFile(path.join(v1, 'features.json'), JSON.stringify({ scale: [1, 2, 4] }));
    const failure = await new ModelRepository(root).open('1').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ModelLoadError);
    expect((failure as ModelLoadError).message).toBe('features.json of version 1 does not match the sha256 in its card');
    expect((failure as ModelLoadError).details).toEqual({ mismatched: [{ file: 'features.json', expected: sealed, actual: (await digests(v1))['features.json'] }] });
  });

  it('refuses a version holding a file its card does not list', async () => {
    await writeFile(path.join(v1, 'notes.txt'), 'added later');
    await expect(new ModelRepository(root).open('1')).rejects.toThrow("version 1 holds notes.txt, which its card's files do not list");
  });

  it('refuses a version missing a file its card lists', async () => {
    await unlink(path.join(v1, 'features.json'));
    await expect(new ModelRepository(root).open('1')).rejects.toThrow('features.json, listed in the card of version 1, is missing');
  });

  it("refuses a card whose onnx_sha256 differs from its files' model.onnx", async () => {
    await editCard(v1, (card) => (card['onnx_sha256'] = 'b'.repeat(64)));
    await expect(new ModelRepository(root).open('1')).rejects.toThrow(/card of version 1 is invalid/);
  });

  it.each([['../model.onnx'], ['/etc/passwd'], ['model.json'], ['a//b'], ['./model.onnx']])('refuses a card listing the path %s', async (file) => {
    const card = JSON.parse(await readFile(path.join(v1, 'model.json'), 'utf8')) as Record<string, Record<string, string>>;
    const parsed = modelCardSchema.safeParse({ ...card, files: { ...card['files'], [file]: 'c'.repeat(64) } });
    expect(parsed.success).toBe(false);
  });

  it('keeps the serving version when a reload meets a tampered artifact, and answers 422 naming the file', async () => {
    await cp(v1, path.join(root, '3'), { recursive: true });
    await editCard(path.join(root, '3'), (card) => (card['version'] = '3'));
    await writeFile(path.join(root, '3', 'features.json'), JSON.stringify({ scale: [9, 9, 9] }));
    const svc = await startTestService({ predictor: linearPredictor, env: { MODEL_DIR: root, MODEL_VERSION: '2' } });
    try {
      const res = await request(svc.app).post('/admin/model/reload').send({ version: '3' }).expect(422);
      expect(res.body.error).toMatchObject({ code: 'model_load_failed', message: 'features.json of version 3 does not match the sha256 in its card' });
      const after = await request(svc.app).post('/v1/predict').send({ a: 1, b: 1, c: 1 }).expect(200);
      expect(after.body.model.version).toBe('2');
    } finally {
      await svc.stop();
    }
  });
});
