import path from 'node:path';
import { once } from 'node:events';
import { z } from 'zod';
import type { HttpError } from '../errors/http-error';
import { NotFoundError } from '../errors/not-found-error';
import { ServiceUnavailableError } from '../errors/service-unavailable-error';
import { definePredictor } from '../inference/predictor';
import { LINEAR_MODEL_DIR } from './linear-predictor';

const FIXTURES = path.resolve(__dirname, '../../fixtures/models');

/** fixtures/models/two-io: inputs x float32 [2] and k int64 [1]; outputs total [1] and scaled [2]. */
export const twoInputPredictor = definePredictor({
  name: 'two-io',
  description: 'Test fixture: two inputs of two types, two outputs',
  input: z.object({ a: z.number(), b: z.number(), k: z.number().int().min(0).max(1000) }).strict(),
  output: z.object({ total: z.number(), scaled: z.tuple([z.number(), z.number()]) }),
  example: { a: 1, b: 2, k: 3 },
  maxBatchInstances: 100,
  defaultModelDir: path.join(FIXTURES, 'two-io'),
  loadArtifacts: async () => ({}),
  featurize(input, _artifacts, row) {
    row.float32('x').set([input.a, input.b]);
    row.int64('k')[0] = BigInt(input.k);
  },
  toOutput: (row) => ({ total: Number(row['total']?.[0]), scaled: [Number(row['scaled']?.[0]), Number(row['scaled']?.[1])] as [number, number] }),
});

/** fixtures/models/contrib: an [N, 4] output, returned whole per row. */
export const contribPredictor = definePredictor({
  name: 'contrib',
  description: 'Test fixture: per-feature contributions',
  input: z.object({ a: z.number(), b: z.number(), c: z.number() }).strict(),
  output: z.object({ contributions: z.array(z.number()).length(4) }),
  example: { a: 1, b: 1, c: 1 },
  maxBatchInstances: 100,
  defaultModelDir: path.join(FIXTURES, 'contrib'),
  loadArtifacts: async () => ({}),
  featurize(input, _artifacts, row) {
    row.float32('x').set([input.a, input.b, input.c]);
  },
  toOutput: (row) => ({ contributions: Array.from(row['contributions'] ?? [], Number) }),
});

/**
 * A feature store in memory, asynchronous as Redis is: `get` answers a whole batch of ids in one call (one
 * round trip) and counts its calls. `down` makes it fail like an unreachable store; `hold` parks calls
 * until released, so a test can land a reload while a request is in prepare.
 */
export class FixtureStore {
  readonly rows = new Map<string, [number, number, number]>([
    ['p1', [1, 1, 1]],
    ['p2', [2, 0, 1]],
  ]);
  calls = 0;
  active = 0;
  peak = 0;
  down = false;
  /** false: get() ignores its signal while held (a prepare that does not honour cancellation). */
  cooperative = true;
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;

  hold(): void {
    this.held = new Promise((resolve) => (this.release = resolve));
  }

  unhold(): void {
    this.release?.();
    this.held = undefined;
  }

  async get(ids: readonly string[], signal: AbortSignal): Promise<(readonly [number, number, number] | undefined)[]> {
    this.calls++;
    this.peak = Math.max(this.peak, ++this.active);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      // Held: a cooperative store gives up the moment the signal aborts, as I/O given the signal would.
      if (this.held) await (this.cooperative ? Promise.race([this.held, once(signal, 'abort')]) : this.held);
      if (this.cooperative) signal.throwIfAborted();
      if (this.down) throw new ServiceUnavailableError('feature store is unavailable', 'store_unavailable');
      return ids.map((id) => this.rows.get(id));
    } finally {
      this.active--;
    }
  }
}

/**
 * The linear fixture model behind an asynchronous prepare stage: an instance names a stored id (looked up in
 * one batched call) or carries its features inline. Unknown ids are refused in place with 404. With
 * `inlineAsPrepared`, an inline instance is its own prepared value (`asPrepared`), as iit-risk's are.
 */
export function lookupPredictor(store: FixtureStore, { inlineAsPrepared = false } = {}) {
  return definePredictor({
    ...(inlineAsPrepared ? { asPrepared: (input: { id: string } | { x: [number, number, number] }) => ('x' in input ? input.x : undefined) } : {}),
    name: 'linear',
    description: 'Test fixture: features from a store by id, or inline',
    input: z.union([z.object({ id: z.string().min(1).max(64) }).strict(), z.object({ x: z.tuple([z.number(), z.number(), z.number()]) }).strict()]),
    output: z.object({ y: z.number() }),
    warmup: () => [{ x: [0, 0, 0] as [number, number, number] }],
    maxBatchInstances: 100,
    defaultModelDir: LINEAR_MODEL_DIR,
    loadArtifacts: async () => ({}),
    async prepare(inputs, { signal }) {
      const ids = inputs.flatMap((i) => ('id' in i ? [i.id] : []));
      const found = ids.length > 0 ? await store.get(ids, signal) : [];
      let k = 0;
      return inputs.map((input): readonly [number, number, number] | HttpError => {
        if (!('id' in input)) return input.x;
        const row = found[k++];
        return row ?? new NotFoundError(`no stored features for id '${input.id}'`);
      });
    },
    featurize(x, _artifacts, row) {
      row.float32('x').set(x);
    },
    toOutput: (row) => ({ y: Number(row['y']?.[0]) }),
  });
}
