import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../errors/model-load-error';
import { zodIssues } from '../errors/zod-issues';
import { modelCardSchema, type ModelCard } from './model-card';

/**
 * A versioned model directory, laid out as Triton's model repository:
 *   <root>/<version>/model.onnx   the graph
 *   <root>/<version>/model.json   the model card
 *   <root>/<version>/...          artifacts the predictor reads (e.g. features.json, golden.json)
 * Versions are whole numbers; the newest is the largest.
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

  /** Reads and checks one version: the card parses, names this version, and the ONNX bytes match its sha256. */
  async open(version: string): Promise<{ dir: string; card: ModelCard; onnx: Uint8Array; sha256: string }> {
    const dir = this.dir(version);
    let cardJson: unknown;
    let onnx: Buffer;
    try {
      cardJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
      onnx = await readFile(path.join(dir, 'model.onnx'));
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
    const sha256 = createHash('sha256').update(onnx).digest('hex');
    if (sha256 !== card.onnx_sha256) {
      throw new ModelLoadError(`model.onnx of version ${version} does not match the sha256 in its card`, {
        expected: card.onnx_sha256,
        actual: sha256,
      });
    }
    return { dir, card, onnx, sha256 };
  }
}
