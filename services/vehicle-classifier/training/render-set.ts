/** Rendered sets and their tensors, shared by render-data.ts (training data) and diagnose-shift.ts. */
import { PIXELS_PER_IMAGE, toPixels } from '../src/image';
import { DEFAULT_LIMITS } from '../src/predictor';
import { CLASSES, render, type Domain, type ShiftFactor } from './render';

export interface Upload {
  bytes: Buffer;
  label: number;
  /** Where it came from, for golden.json. */
  name: string;
}

/** Runs `work` over `items` with at most `limit` at once (sharp decodes on its own thread pool). */
export async function mapPool<T, R>(items: readonly T[], limit: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i] as T, i);
      }
    }),
  );
  return out;
}

/** `perClass` renders of every class in `domain` (with `only`: one shift factor, the rest as in training). */
export async function renderSet(domain: Domain, perClass: number, seed: number, only?: ShiftFactor): Promise<Upload[]> {
  const scenes = CLASSES.flatMap((cls, label) => Array.from({ length: perClass }, (_, k) => ({ cls, label, seed: (seed * 1_000_003 + label * 100_000 + k) >>> 0 })));
  return mapPool(scenes, 4, async (s) => ({ bytes: (await render({ cls: s.cls, domain, seed: s.seed, only })).bytes, label: s.label, name: `${domain}/${s.cls}/${s.seed}` }));
}

/** The uploads through the service's own preprocessing (its default limits: training refuses what serving would), with their labels. */
export async function toTensors(uploads: readonly Upload[]): Promise<{ x: Float32Array; y: Uint8Array }> {
  const x = new Float32Array(uploads.length * PIXELS_PER_IMAGE);
  const y = new Uint8Array(uploads.length);
  await mapPool(uploads, 4, async (u, i) => {
    x.set(await toPixels(u.bytes, DEFAULT_LIMITS), i * PIXELS_PER_IMAGE);
    y[i] = u.label;
  });
  return { x, y };
}
