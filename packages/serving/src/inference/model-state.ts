import { randomBytes } from 'node:crypto';
import { appendFile, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../errors/model-load-error';
import type { ModelRepository } from './model-repository';

/** One line of the promotion history (`<MODEL_DIR>/history.jsonl`, append-only). */
export interface HistoryEntry {
  at: string;
  action: 'promote' | 'rollback';
  from: string | null;
  to: string;
  forced: boolean;
  /** Who asked: an API key id, or the CLI's user. Never a key. */
  actor: string;
  reason?: string;
  /** The gate metric of both versions on the same evaluation set, when scored. */
  gate?: { metric: string; direction: 'lower' | 'higher'; candidate: number; active: number | null; rows: number; evaluation_version: string };
}

/**
 * The repository's mutable state, beside its immutable version directories: `active` (the version that
 * serves, written atomically: a temporary file renamed over it) and `history.jsonl` (every promotion and
 * rollback, appended). A crash at any step leaves either the old pointer or the new one, never none.
 */
export class ModelState {
  readonly activeFile: string;
  readonly historyFile: string;

  constructor(readonly root: string) {
    this.activeFile = path.join(root, 'active');
    this.historyFile = path.join(root, 'history.jsonl');
  }

  /** The version the `active` file names; undefined when there is none. */
  async active(): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.activeFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ModelLoadError(`the active-version file cannot be read (${(error as NodeJS.ErrnoException).code})`, undefined, error);
    }
    const version = text.trim();
    if (!/^\d+$/.test(version)) throw new ModelLoadError(`the active-version file holds '${version.slice(0, 20)}', not a version number`);
    return version;
  }

  /** Points `active` at `version`: write a temporary file, flush it, rename it over the old one. */
  async setActive(version: string): Promise<void> {
    const tmp = path.join(this.root, `.active.${process.pid}.${randomBytes(4).toString('hex')}`);
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(`${version}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(tmp, this.activeFile);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  async history(): Promise<HistoryEntry[]> {
    let text: string;
    try {
      text = await readFile(this.historyFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as HistoryEntry);
  }

  async append(entry: HistoryEntry): Promise<void> {
    await appendFile(this.historyFile, `${JSON.stringify(entry)}\n`);
  }
}

/** Is a version a candidate (written by training, never served until promoted)? Its card says so. */
async function isCandidate(repository: ModelRepository, version: string): Promise<boolean> {
  try {
    const card = JSON.parse(await readFile(path.join(repository.dir(version), 'model.json'), 'utf8')) as { candidate?: unknown };
    return card.candidate === true;
  } catch {
    return true; // unreadable: never picked by default
  }
}

/**
 * The version that should serve: the `active` file's, else the newest version that is not a candidate.
 * A retrain therefore never goes live by merely existing.
 */
export async function servingVersion(repository: ModelRepository, state: ModelState): Promise<string> {
  const active = await state.active();
  if (active !== undefined) return active;
  const versions = await repository.versions();
  for (let i = versions.length - 1; i >= 0; i--) {
    const v = versions[i] as string;
    if (!(await isCandidate(repository, v))) return v;
  }
  throw new ModelLoadError('no version to serve: no active-version file and every version is a candidate (promote one)');
}

/** Newest candidate newer than `than` (the default target of a promotion). */
export async function newestCandidate(repository: ModelRepository, than: string | undefined): Promise<string | undefined> {
  const versions = await repository.versions();
  for (let i = versions.length - 1; i >= 0; i--) {
    const v = versions[i] as string;
    if (than !== undefined && Number(v) <= Number(than)) return undefined;
    if (await isCandidate(repository, v)) return v;
  }
  return undefined;
}
