import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { HttpError, parseOrThrow, type JobSource } from '@predict/serving';
import { z } from 'zod';

export interface ImageSourceOptions {
  /** JOBS_IMAGE_ROOT: the shared volume the paths are relative to; undefined refuses every job of this source. */
  root: string | undefined;
  /** MAX_IMAGE_BYTES: a larger file is refused in place (413), never read whole. */
  maxBytes: number;
  /** JOBS_IMAGE_MAX_PATHS: most paths one job may list. */
  maxPaths: number;
}

/** Why one path is refused: a per-row error in the results (the job goes on). */
function refused(status: number, code: string, index: number, file: string, message: string): HttpError {
  return new HttpError(status, code, `paths[${index}] "${file}": ${message}`, { details: [{ path: `paths[${index}]`, message, code }] });
}

/** A file-system error that is the file's own fault (answered in place), not the volume's (retried). */
const PER_FILE_ERRORS: Readonly<Record<string, [number, string, string]>> = {
  ENOENT: [404, 'image_not_found', 'no such file under JOBS_IMAGE_ROOT'],
  ENOTDIR: [404, 'image_not_found', 'no such file under JOBS_IMAGE_ROOT (a parent is not a directory)'],
  EACCES: [403, 'image_unreadable', 'permission denied'],
  EPERM: [403, 'image_unreadable', 'permission denied'],
  ELOOP: [400, 'invalid_path', 'is a symbolic link'],
  EISDIR: [400, 'not_a_file', 'is a directory, not a file'],
};

/**
 * The `images` source of the vehicle-classifier queue: `{"paths": ["cars/0001.jpg", …]}`, files read from the
 * shared volume JOBS_IMAGE_ROOT (read only: nothing is ever written there). Index i of the results is
 * paths[i]. An explicit list rather than a directory listing: a listing can change between a job's attempts,
 * a list cannot, so a job taken over mid-way resumes on the same rows.
 *
 * Each path is refused in place, with a 4xx naming it, when it is absolute or has a `..` segment, resolves
 * (through symbolic links) outside the root, is not a regular file, is over MAX_IMAGE_BYTES, or does not
 * exist; the file is opened without following a final symlink (O_NOFOLLOW) after its real path was checked,
 * and at most MAX_IMAGE_BYTES + 1 bytes are ever read from it. Only errors of the volume itself (EIO, EMFILE…)
 * throw: the job is retried with its backoff.
 */
export function imageSource(options: ImageSourceOptions): JobSource {
  const { maxBytes, maxPaths } = options;
  const paramsSchema = z
    .object({ paths: z.array(z.string().min(1).max(1024)).min(1).max(maxPaths) })
    .strict();
  /** The root's real path (resolved per chunk: a volume mounted late is picked up; an absent one throws and the job is retried). */
  const root = async () => {
    if (options.root === undefined) throw new HttpError(400, 'source_unavailable', "JOBS_IMAGE_ROOT is not set on this worker: the 'images' source has no volume to read");
    const real = await realpath(options.root);
    return real.endsWith(path.sep) ? real : real + path.sep;
  };

  /** Parsed path lists by params object: a job's attempt passes the same params to every chunk's read. */
  const parsedPaths = new WeakMap<Record<string, unknown>, string[]>();

  function parse(params: Record<string, unknown>): string[] {
    const known = parsedPaths.get(params);
    if (known) return known;
    // 400 validation_error naming each failing field (params.paths, params.<unknown key>), as every source refuses.
    const { paths } = parseOrThrow(paramsSchema, params, ['params']);
    parsedPaths.set(params, paths);
    return paths;
  }

  async function readOne(base: string, file: string, index: number): Promise<{ image: Buffer } | HttpError> {
    if (file.includes('\0')) return refused(400, 'invalid_path', index, file.replace(/\0/g, '\\0'), 'contains a NUL byte');
    if (path.isAbsolute(file) || file.split(/[/\\]/).includes('..')) {
      return refused(400, 'invalid_path', index, file, "must be relative to JOBS_IMAGE_ROOT, without '..' segments");
    }
    let real: string;
    try {
      real = await realpath(path.join(base, file));
    } catch (error) {
      return perFile(error, index, file);
    }
    if (!real.startsWith(base)) return refused(400, 'invalid_path', index, file, 'resolves outside JOBS_IMAGE_ROOT (a symbolic link out of the volume)');
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      // O_NOFOLLOW: had the file been swapped for a symlink since realpath, the open fails (ELOOP) instead of following it.
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      return perFile(error, index, file);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return refused(400, 'not_a_file', index, file, 'is not a regular file');
      if (stat.size > maxBytes) return refused(413, 'payload_too_large', index, file, `${stat.size} bytes exceeds the limit of ${maxBytes} bytes (MAX_IMAGE_BYTES)`);
      // Read at most maxBytes + 1: a file that grew since fstat is still caught, and never read whole.
      const buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(stat.size, 0) + 1));
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length === buffer.length) break;
      }
      if (length > maxBytes) return refused(413, 'payload_too_large', index, file, `more than ${maxBytes} bytes (MAX_IMAGE_BYTES)`);
      return { image: buffer.subarray(0, length) };
    } catch (error) {
      return perFile(error, index, file);
    } finally {
      await handle.close();
    }
  }

  return {
    async count(params) {
      const paths = parse(params);
      await root();
      return paths.length;
    },
    async read(params, start, end) {
      const paths = parse(params).slice(start, end);
      const base = await root();
      return Promise.all(paths.map((file, k) => readOne(base, file, start + k)));
    },
  };
}

/** A per-file error answered in place; anything else (the volume failing) throws and the job is retried. */
function perFile(error: unknown, index: number, file: string): HttpError {
  const known = PER_FILE_ERRORS[(error as NodeJS.ErrnoException).code ?? ''];
  if (!known) throw error;
  return refused(known[0], known[1], index, file, known[2]);
}
