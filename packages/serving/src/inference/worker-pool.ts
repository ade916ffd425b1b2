import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'winston';
import {
  sessionOptions,
  type IoInfo,
  type RunOutputs,
  type SessionRunner,
  type SessionSettings,
} from './session-runner';

const WORKER_FILE = path.join(__dirname, 'session-worker.js');

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  busy: number;
  pending: Map<number, Pending>;
}

interface LoadedGraph {
  model: Uint8Array;
  settings: SessionSettings;
}

/**
 * A fixed pool of worker threads, each holding its own onnxruntime session of every loaded graph, so long
 * runs (image models, large batches) never block the JavaScript thread that serves HTTP. A run goes to the
 * least busy thread. A thread that dies is replaced and its graphs loaded again; its runs in flight fail.
 *
 * Written here rather than taken from piscina: a pool task queue cannot load a session on *every* thread,
 * or release one from every thread on a hot reload, and both are what model versions need.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly graphs = new Map<string, LoadedGraph>();
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly logger: Logger,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(i));
  }

  private spawn(index: number): Slot {
    const slot: Slot = { worker: new Worker(WORKER_FILE), busy: 0, pending: new Map() };
    slot.worker.on('message', (msg: { id: number; ok: boolean; result?: unknown; error?: { message: string; stack?: string } }) => {
      const p = slot.pending.get(msg.id);
      if (!p) return;
      slot.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else {
        const error = new Error(msg.error?.message ?? 'worker error');
        if (msg.error?.stack) error.stack = msg.error.stack;
        p.reject(error);
      }
    });
    slot.worker.on('error', (error) => this.logger.error('inference worker failed', { worker: index, error: { message: error.message, stack: error.stack } }));
    slot.worker.on('exit', (code) => {
      for (const p of slot.pending.values()) p.reject(new Error(`inference worker ${index} exited with code ${code}`));
      slot.pending.clear();
      if (this.closed) return;
      this.logger.error('inference worker exited; replacing it', { worker: index, exit_code: code });
      const replacement = this.spawn(index);
      this.slots[index] = replacement;
      for (const [key, graph] of this.graphs) {
        this.call(replacement, { type: 'load', key, model: graph.model, options: sessionOptions(graph.settings) }).catch((error: Error) =>
          this.logger.error('reloading a graph on a replacement worker failed', { worker: index, key, error: { message: error.message, stack: error.stack } }),
        );
      }
    });
    slot.worker.unref();
    return slot;
  }

  private call(slot: Slot, message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const id = this.nextId++;
    slot.busy++;
    return new Promise<unknown>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...message, id }, transfer);
    }).finally(() => {
      slot.busy--;
    });
  }

  /** Loads a graph on every thread; resolves with its declared inputs and outputs. */
  async load(key: string, model: Uint8Array, settings: SessionSettings): Promise<SessionRunner> {
    if (this.closed) throw new Error('worker pool is closed');
    const infos = await Promise.all(
      this.slots.map((slot) => this.call(slot, { type: 'load', key, model, options: sessionOptions(settings) })),
    );
    this.graphs.set(key, { model, settings });
    const first = infos[0] as { inputs: IoInfo[]; outputs: IoInfo[] };
    return {
      inputs: first.inputs,
      outputs: first.outputs,
      run: (inputName, data, dims) => this.run(key, inputName, data, dims),
      release: () => this.release(key),
    };
  }

  private async run(key: string, inputName: string, data: Float32Array, dims: readonly number[]): Promise<RunOutputs> {
    let slot = this.slots[0] as Slot;
    for (const s of this.slots) if (s.busy < slot.busy) slot = s;
    // The batch buffer belongs to this run alone, so hand it over rather than copy it.
    const transfer = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? [data.buffer as ArrayBuffer] : [];
    return (await this.call(slot, { type: 'run', key, inputName, data, dims: [...dims] }, transfer)) as RunOutputs;
  }

  private async release(key: string): Promise<void> {
    this.graphs.delete(key);
    await Promise.all(this.slots.map((slot) => this.call(slot, { type: 'release', key })));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
