import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ModelLoadError } from '../errors/model-load-error';
import { zodIssues } from '../errors/zod-issues';
import { modelCardSchema, type ModelCard } from './model-card';

/** Every file of a version directory but model.json, as '/'-separated paths inside it, sorted. */
async function versionFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await versionFiles(dir, name)));
    else if (name !== 'model.json') out.push(name);
  }
  return out.sort();
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** sha256 of every file of a version directory but model.json: the `files` map its card carries. */
export async function digestVersion(dir: string): Promise<Record<string, string>> {
  const files = await versionFiles(dir);
  const digests = await Promise.all(files.map((f) => fileSha256(path.join(dir, f))));
  return Object.fromEntries(files.map((f, i) => [f, digests[i] as string]));
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * A versioned model directory, laid out as Triton's model repository:
 *   <root>/<version>/model.onnx   the graph
 *   <root>/<version>/model.json   the model card, with the sha256 of every other file of the version
 *   <root>/<version>/...          artifacts the predictor reads (e.g. features.json, golden.json)
 * Versions are whole numbers; the newest is the largest. A version is immutable once written: `open` refuses
 * one whose files differ from its card, are missing, or are not listed in it.
 */
export class ModelRepository {
  constructor(readonly root: string) {}

  async versions(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (error) {
      throw new ModelLoadError(`model directory ${this.root} cannot be read`, undefined, error);
    }
    return entries
      .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
      .map((e) => e.name)
      .sort((a, b) => Number(a) - Number(b));
  }

  async newest(): Promise<string> {
    const all = await this.versions();
    const last = all.at(-1);
    if (last === undefined) throw new ModelLoadError(`no model version directory in ${this.root}`);
    return last;
  }

  dir(version: string): string {
    if (!/^\d+$/.test(version)) throw new ModelLoadError(`model version must be a whole number, got '${version}'`);
    return path.join(this.root, version);
  }

  /**
   * Reads and checks one version: the card parses and names this version, and the directory holds exactly the
   * files the card lists, each with its sha256. (Artifacts are read again by the predictor's loadArtifacts:
   * this guards against drift and corruption between writing a version and loading it, not a concurrent writer.)
   */
  async open(version: string): Promise<{ dir: string; card: ModelCard; onnx: Uint8Array; sha256: string }> {
    const dir = this.dir(version);
    let cardJson: unknown;
    let present: string[];
    try {
      cardJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
      present = await versionFiles(dir);
    } catch (error) {
      throw new ModelLoadError(`model version ${version} cannot be read: ${(error as Error).message}`, undefined, error);
    }
    const parsed = modelCardSchema.safeParse(cardJson);
    if (!parsed.success) {
      throw new ModelLoadError(`model card of version ${version} is invalid`, zodIssues(parsed.error));
    }
    const card = parsed.data;
    if (card.version !== version) {
      throw new ModelLoadError(`model card says version ${card.version} but sits in directory ${version}`);
    }
    const unlisted = present.filter((f) => !Object.hasOwn(card.files, f));
    if (unlisted.length > 0) {
      throw new ModelLoadError(`version ${version} holds ${unlisted.join(', ')}, which its card's files do not list`, { unlisted });
    }
    const missing = Object.keys(card.files).filter((f) => !present.includes(f));
    if (missing.length > 0) {
      throw new ModelLoadError(`${missing.join(', ')}, listed in the card of version ${version}, ${missing.length > 1 ? 'are' : 'is'} missing`, { missing });
    }
    let onnx: Buffer;
    let actual: Record<string, string>;
    try {
      onnx = await readFile(path.join(dir, 'model.onnx'));
      const others = Object.keys(card.files).filter((f) => f !== 'model.onnx');
      const digests = await Promise.all(others.map((f) => fileSha256(path.join(dir, f))));
      actual = Object.fromEntries([['model.onnx', sha256(onnx)], ...others.map((f, i) => [f, digests[i] as string])]);
    } catch (error) {
      throw new ModelLoadError(`model version ${version} cannot be read: ${(error as Error).message}`, undefined, error);
    }
    const mismatched = Object.entries(card.files)
      .filter(([f, expected]) => actual[f] !== expected)
      .map(([file, expected]) => ({ file, expected, actual: actual[file] }));
    if (mismatched.length > 0) {
      const names = mismatched.map((m) => m.file).join(', ');
      throw new ModelLoadError(`${names} of version ${version} ${mismatched.length > 1 ? 'do' : 'does'} not match the sha256 in its card`, { mismatched });
    }
    return { dir, card, onnx, sha256: card.onnx_sha256 };
  }
}
