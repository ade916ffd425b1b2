import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'winston';
import {
  sessionOptions,
  type Feeds,
  type IoInfo,
  type RunOutputs,
  type SessionRunner,
  type SessionSettings,
} from './session-runner';

const WORKER_FILE = path.join(__dirname, 'session-worker.js');

/** Generous: a run is a batch of rows, milliseconds for tabular models, seconds for large images. */
export const DEFAULT_RUN_TIMEOUT_MS = 60_000;

export interface WorkerPoolOptions {
  size: number;
  logger: Logger;
  /**
   * A run that has not answered after this long fails, and its thread leaves rotation and is replaced (its
   * session state is unknown). A run also waits at most this long for a thread in rotation. Default 60 s.
   */
  runTimeoutMs?: number;
  /**
   * A thread taken out of rotation stops once onnxruntime answers the work it owes (see `retire`); one whose
   * work has not answered after this long is terminated anyway. Default 10 minutes.
   */
  retireGraceMs?: number;
  /** Pause before replacing a thread that died; doubles with each consecutive death of its slot. Default 100 ms. */
  respawnDelayMs?: number;
  /** Cap of that pause. Default 30 s. */
  maxRespawnDelayMs?: number;
  /** A thread in rotation this long clears its slot's consecutive deaths. Default 60 s. */
  healthyAfterMs?: number;
  /** The thread's script; tests pass a wrapper of session-worker.js that injects faults into onnxruntime. */
  workerFile?: string;
  /** Passed to every thread as workerData, with its slot index and spawn count (1 = the slot's first thread) added. */
  workerData?: Record<string, unknown>;
}

/** One slot of the pool as diagnostics and tests see it. */
export interface ThreadStatus {
  slot: number;
  /** 'starting': loading the pool's graphs (no runs yet); 'ready': in rotation; 'down': waiting to be replaced. */
  state: 'starting' | 'ready' | 'down';
  busy: number;
  /** Consecutive deaths of this slot's threads. */
  failures: number;
  /** Threads started in this slot so far (1 + replacements). */
  spawns: number;
}

/** The thread died (crashed, or was terminated) before it answered: says nothing about the message itself. */
class ThreadExitError extends Error {
  override name = 'ThreadExitError';
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

interface Graph {
  model: Uint8Array;
  settings: SessionSettings;
  /** Its load() succeeded: every thread must hold it to be in rotation. */
  serving: boolean;
}

interface GraphInfo {
  inputs: IoInfo[];
  outputs: IoInfo[];
}

/** One worker thread and what it holds. */
interface Thread {
  worker: Worker;
  slot: number;
  /** In rotation: every serving graph of the pool was loaded on it (its handshake), and it has not died. */
  ready: boolean;
  exited: boolean;
  /** Out of rotation for good, its slot handed to a replacement; it stops once `native` is empty. */
  retired: boolean;
  busy: number;
  pending: Map<number, Pending>;
  /**
   * Messages that start onnxruntime work (load, run) and that the thread has not answered yet, including runs
   * whose caller gave up at the run timeout: the thread is never terminated while this is not empty.
   */
  native: Set<number>;
  /** Loads sent to this thread, by key, in flight or done. */
  loads: Map<string, Promise<GraphInfo>>;
  /** Keys whose session this thread holds. */
  loaded: Set<string>;
}

/** One place in the pool: the thread serving it now and its history. */
interface Slot {
  thread: Thread | undefined;
  spawns: number;
  failures: number;
  respawn: NodeJS.Timeout | undefined;
  healthy: NodeJS.Timeout | undefined;
}

/**
 * A fixed pool of worker threads, each holding its own onnxruntime session of every loaded graph, so long
 * runs (image models, large batches) never block the JavaScript thread that serves HTTP. A run goes to the
 * least busy thread in rotation.
 *
 * A thread that dies is replaced after a pause that doubles with each consecutive death of its slot (capped,
 * and cleared once a thread has stayed healthy for a while). Like BullMQ's child pool, which hands out a child
 * only after its init handshake, a thread enters rotation only once every graph of the pool is loaded on it;
 * while no thread is in rotation, runs wait (up to the run timeout) rather than fail. A run whose thread died
 * under it runs once more on another thread. A run that hangs fails after the run timeout and its thread is
 * replaced. A load that fails on one thread is released on the others.
 *
 * Written here rather than taken from piscina: a pool task queue cannot load a session on *every* thread,
 * or release one from every thread on a hot reload, and both are what model versions need.
 */
export class WorkerPool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly graphs = new Map<string, Graph>();
  /** Runs (and loads) waiting for a thread to enter rotation. */
  private readonly waiters = new Set<() => void>();
  private readonly logger: Logger;
  private readonly runTimeoutMs: number;
  /** Threads out of rotation that still owe onnxruntime work. */
  private readonly retiring = new Set<Thread>();
  private nextId = 1;
  private nextKey = 1;
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {
    this.size = options.size;
    this.logger = options.logger;
    this.runTimeoutMs = options.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    for (let i = 0; i < this.size; i++) {
      this.slots.push({ thread: undefined, spawns: 0, failures: 0, respawn: undefined, healthy: undefined });
      this.spawn(i);
    }
  }

  private spawn(index: number): void {
    const slot = this.slots[index] as Slot;
    slot.respawn = undefined;
    slot.spawns++;
    const worker = new Worker(this.options.workerFile ?? WORKER_FILE, { workerData: { ...this.options.workerData, slot: index, spawn: slot.spawns } });
    const thread: Thread = {
      worker,
      slot: index,
      ready: false,
      exited: false,
      retired: false,
      busy: 0,
      pending: new Map(),
      native: new Set(),
      loads: new Map(),
      loaded: new Set(),
    };
    slot.thread = thread;
    worker.on('message', (msg: { id: number; ok: boolean; result?: unknown; error?: { message: string; stack?: string } }) => {
      if (thread.native.delete(msg.id) && thread.retired && thread.native.size === 0) void worker.terminate();
      const p = thread.pending.get(msg.id);
      if (!p) return;
      thread.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else {
        const error = new Error(msg.error?.message ?? 'worker error');
        if (msg.error?.stack) error.stack = msg.error.stack;
        p.reject(error);
      }
    });
    worker.on('error', (error) => this.logger.error('inference thread failed', { worker: index, error: { message: error.message, stack: error.stack } }));
    worker.on('exit', (code) => this.exited(thread, code));
    worker.unref();
    void this.handshake(thread, slot);
  }

  /** Loads every graph of the pool on a new thread, then puts it in rotation. */
  private async handshake(thread: Thread, slot: Slot): Promise<void> {
    try {
      await this.call(thread, { type: 'status' }); // it started and answers
      for (;;) {
        const keys = [...this.graphs.keys()];
        await Promise.all(keys.map((key) => this.loadOn(thread, key).catch((error: unknown) => this.unlessPending(key, error))));
        if (this.servingKeys().every((key) => thread.loaded.has(key))) break; // else graphs came meanwhile
      }
    } catch (error) {
      if (error instanceof ThreadExitError || this.closed) return;
      this.logger.error('an inference thread cannot load the serving graphs; replacing it', {
        worker: thread.slot,
        error: { message: (error as Error).message, stack: (error as Error).stack },
      });
      this.retire(thread);
      return;
    }
    if (thread.exited || this.closed) return;
    thread.ready = true;
    if (slot.spawns > 1) this.logger.info('replacement inference thread in rotation', { worker: thread.slot, spawn: slot.spawns, graphs: thread.loaded.size });
    slot.healthy = setTimeout(() => {
      if (slot.thread === thread && !thread.exited) slot.failures = 0;
    }, this.options.healthyAfterMs ?? 60_000);
    slot.healthy.unref();
    this.wake();
  }

  /**
   * Rethrows a handshake's failed load of a serving graph (the thread is at fault). A graph whose load() is
   * still running decides there (it fails the load, or this thread loads it once it serves); a dropped one is
   * moot.
   */
  private unlessPending(key: string, error: unknown): void {
    if (error instanceof ThreadExitError || this.graphs.get(key)?.serving) throw error;
  }

  private servingKeys(): string[] {
    return [...this.graphs].flatMap(([key, graph]) => (graph.serving ? [key] : []));
  }

  private exited(thread: Thread, code: number): void {
    thread.exited = true;
    thread.ready = false;
    for (const p of thread.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ThreadExitError(`inference thread ${thread.slot} exited with code ${code}`));
    }
    thread.pending.clear();
    thread.native.clear();
    thread.loads.clear();
    thread.loaded.clear();
    if (this.retiring.delete(thread)) {
      this.logger.info('retired inference thread stopped', { worker: thread.slot });
      return; // its slot was handed to a replacement when it retired
    }
    if (this.closed) return;
    this.respawnSlot(thread.slot, 'inference thread exited; replacing it', { exit_code: code });
  }

  /** Schedules a new thread for an empty slot after a pause that doubles with the slot's consecutive failures. */
  private respawnSlot(index: number, message: string, fields: Record<string, unknown>): void {
    const slot = this.slots[index] as Slot;
    clearTimeout(slot.healthy);
    slot.thread = undefined;
    slot.failures++;
    const pause = Math.min(this.options.maxRespawnDelayMs ?? 30_000, (this.options.respawnDelayMs ?? 100) * 2 ** (slot.failures - 1));
    this.logger.error(message, { worker: index, ...fields, failures: slot.failures, respawn_in_ms: pause });
    slot.respawn = setTimeout(() => this.spawn(index), pause);
    slot.respawn.unref();
  }

  /**
   * Takes a thread out of rotation for good and hands its slot to a replacement. It is terminated only once
   * onnxruntime has answered all the work it started there: terminating a thread while a session create or run
   * is in flight on it aborts the whole process when that native call completes (onnxruntime-node throws into
   * the torn-down environment: "terminate called after throwing an instance of 'Napi::Error'"). Work that
   * has not answered after `retireGraceMs` is taken as stuck for good and the thread terminated anyway.
   */
  private retire(thread: Thread): void {
    if (thread.exited || thread.retired) return;
    thread.retired = true;
    thread.ready = false;
    this.retiring.add(thread);
    if ((this.slots[thread.slot] as Slot).thread === thread && !this.closed) {
      this.respawnSlot(thread.slot, 'inference thread taken out of rotation; replacing it', { owed_native_calls: thread.native.size });
    }
    if (thread.native.size === 0) {
      void thread.worker.terminate();
      return;
    }
    const grace = setTimeout(() => {
      if (thread.exited) return;
      this.logger.error('a retired inference thread still owes onnxruntime work; terminating it anyway', { worker: thread.slot, owed_native_calls: thread.native.size });
      void thread.worker.terminate();
    }, this.options.retireGraceMs ?? 600_000);
    grace.unref();
  }

  /** Sends one message; `timeoutMs` bounds a run: past it, the call fails and the thread is replaced. */
  private call(thread: Thread, message: Record<string, unknown>, timeoutMs?: number): Promise<unknown> {
    if (thread.exited) return Promise.reject(new ThreadExitError(`inference thread ${thread.slot} has exited`));
    const id = this.nextId++;
    if (message['type'] === 'load' || message['type'] === 'run') thread.native.add(id);
    // An idle thread holds no process open; one that owes an answer does (a stop waiting on a release).
    if (thread.busy++ === 0) thread.worker.ref();
    return new Promise<unknown>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              thread.pending.delete(id);
              reject(new Error(`inference run did not answer within ${timeoutMs} ms`));
              this.logger.error('an inference run did not answer in time; replacing its thread', { worker: thread.slot, timeout_ms: timeoutMs });
              this.retire(thread);
            }, timeoutMs);
      thread.pending.set(id, { resolve, reject, timer });
      thread.worker.postMessage({ ...message, id });
    }).finally(() => {
      if (--thread.busy === 0) thread.worker.unref();
    });
  }

  /** Loads graph `key` on one thread, once; a load that lands after the graph was dropped is released again. */
  private loadOn(thread: Thread, key: string): Promise<GraphInfo> {
    const known = thread.loads.get(key);
    if (known) return known;
    const graph = this.graphs.get(key);
    if (!graph) return Promise.reject(new Error(`session '${key}' was released`));
    const loading = this.call(thread, { type: 'load', key, model: graph.model, options: sessionOptions(graph.settings) }).then(
      async (info) => {
        thread.loaded.add(key);
        if (!this.graphs.has(key)) await this.releaseOn(thread, key);
        return info as GraphInfo;
      },
      (error: unknown) => {
        thread.loads.delete(key);
        throw error;
      },
    );
    thread.loads.set(key, loading);
    return loading;
  }

  private async releaseOn(thread: Thread, key: string): Promise<void> {
    if (!thread.loaded.delete(key)) return;
    thread.loads.delete(key);
    await this.call(thread, { type: 'release', key }).catch((error: unknown) => {
      if (!(error instanceof ThreadExitError)) this.logger.warn('releasing a session failed', { worker: thread.slot, key, error: { message: (error as Error).message } });
    });
  }

  /** Threads alive now, in rotation or starting. */
  private live(): Thread[] {
    return this.slots.flatMap((slot) => (slot.thread && !slot.thread.exited ? [slot.thread] : []));
  }

  /**
   * Loads a graph on every thread; resolves with its declared inputs and outputs. The pool names the sessions
   * itself (`name#n`, a fresh n per load), so two loads of one graph (a reload of the serving version) are two
   * sessions, and releasing the old one never touches the new. A thread that dies during the load does not
   * fail it: its replacement loads the graph before entering rotation. A thread that refuses the graph fails
   * it, and the graph is released where it did load.
   */
  async load(name: string, model: Uint8Array, settings: SessionSettings): Promise<SessionRunner> {
    if (this.closed) throw new Error('worker pool is closed');
    const key = `${name}#${this.nextKey++}`;
    const graph: Graph = { model, settings, serving: false };
    this.graphs.set(key, graph);
    const settled = await Promise.allSettled(this.live().map((thread) => this.loadOn(thread, key)));
    let failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof ThreadExitError))?.reason as unknown;
    let info = settled.find((r): r is PromiseFulfilledResult<GraphInfo> => r.status === 'fulfilled')?.value;
    if (!failure && !info) {
      // Every thread died under the load, or none was running: a replacement loads it in its handshake.
      try {
        info = await this.pick(key).then((thread) => thread.loads.get(key) as Promise<GraphInfo>);
      } catch (error) {
        failure = error;
      }
    }
    if (failure !== undefined || !info) {
      this.graphs.delete(key);
      await Promise.all(this.live().map((thread) => this.releaseOn(thread, key)));
      throw failure;
    }
    graph.serving = true;
    // Threads that started during the load and missed it (their handshake found it unsettled) take it now;
    // runs pick only threads that hold it meanwhile.
    for (const thread of this.live()) {
      if (thread.loads.has(key)) continue;
      this.loadOn(thread, key).catch((error: unknown) => {
        if (error instanceof ThreadExitError || !this.graphs.has(key)) return;
        this.logger.error('an inference thread cannot load a serving graph; replacing it', { worker: thread.slot, error: { message: (error as Error).message } });
        this.retire(thread);
      });
    }
    return {
      inputs: info.inputs,
      outputs: info.outputs,
      run: (feeds) => this.run(key, feeds),
      release: () => this.release(key),
    };
  }

  /**
   * The least busy thread in rotation that holds `key` (preferring any slot but `avoid`), waiting up to the
   * run timeout for one.
   */
  private async pick(key: string, avoid?: number): Promise<Thread> {
    const deadline = Date.now() + this.runTimeoutMs;
    for (;;) {
      if (this.closed) throw new Error('worker pool is closed');
      if (!this.graphs.has(key)) throw new Error(`session '${key}' was released`);
      let best: Thread | undefined;
      const rank = (t: Thread) => (t.slot === avoid ? 1e9 : 0) + t.busy;
      for (const { thread } of this.slots) {
        if (thread?.ready && thread.loaded.has(key) && (!best || rank(thread) < rank(best))) best = thread;
      }
      if (best) return best;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no inference thread was in rotation within ${this.runTimeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  private wake(): void {
    for (const done of [...this.waiters]) done();
  }

  /**
   * Runs on a thread in rotation. Inputs are copied to the thread, not transferred: a run whose thread dies
   * under it (a crash, or a replacement for another run's timeout) runs once more on another thread.
   */
  private async run(key: string, feeds: Feeds): Promise<RunOutputs> {
    let died: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const thread = await this.pick(key, died);
      try {
        return (await this.call(thread, { type: 'run', key, feeds }, this.runTimeoutMs)) as RunOutputs;
      } catch (error) {
        if (!(error instanceof ThreadExitError) || attempt > 1 || this.closed) throw error;
        died = thread.slot;
      }
    }
  }

  private async release(key: string): Promise<void> {
    this.graphs.delete(key);
    this.wake(); // runs waiting for this key fail now
    await Promise.all(this.live().map((thread) => this.releaseOn(thread, key)));
  }

  /** Every slot's state, for diagnostics and tests. */
  status(): ThreadStatus[] {
    return this.slots.map((slot, i) => {
      const thread = slot.thread;
      const state = !thread || thread.exited ? 'down' : thread.ready ? 'ready' : 'starting';
      return { slot: i, state, busy: thread?.busy ?? 0, failures: slot.failures, spawns: slot.spawns };
    });
  }

  /** The thread serving `slot` now (a test terminates it to stand for a crash). */
  worker(slot: number): Worker | undefined {
    return this.slots[slot]?.thread?.worker;
  }

  /** The session keys each thread holds, by slot (none for a slot whose thread is down). */
  async sessionKeys(): Promise<string[][]> {
    return Promise.all(
      this.slots.map(async ({ thread }) =>
        thread && !thread.exited ? ((await this.call(thread, { type: 'status' })) as { sessions: string[] }).sessions : [],
      ),
    );
  }

  /**
   * Stops every thread, each once onnxruntime has answered the work it owes (see `retire`), waiting at most
   * the run timeout for that.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots) {
      clearTimeout(slot.respawn);
      clearTimeout(slot.healthy);
    }
    this.wake();
    const threads = [...this.live(), ...this.retiring];
    const deadline = Date.now() + this.runTimeoutMs;
    await Promise.all(
      threads.map(async (thread) => {
        thread.ready = false;
        while (thread.native.size > 0 && !thread.exited && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
        if (thread.native.size > 0 && !thread.exited) {
          this.logger.error('an inference thread still owes onnxruntime work at close; terminating it anyway', { worker: thread.slot, owed_native_calls: thread.native.size });
        }
        await thread.worker.terminate();
      }),
    );
  }
}
