// @ts-check
// Tests only (never built into dist): session-worker.js with faults injected into onnxruntime, so the pool's
// handling of failing, hanging and crashing threads runs against real threads and real sessions. The faults
// come in workerData.faults; `slot` and `spawn` (1 = the slot's first thread) are added by the pool.
//   refuseLoads:  { slot, sha256 }                 creating a session of this graph fails on this slot
//   hangRuns:     { slot, spawn }                  runs on this thread never answer
//   crashAtStart: { slot, spawnsBelow }            the thread exits with code 1 before it answers anything
//   crashOn:      { slot, spawn, type, after }     on its (after + 1)-th message of `type` ('load' | 'run') the
//                                                  thread stops answering and exits with code 1, as soon as
//                                                  no onnxruntime call is in flight on it: a thread that dies
//                                                  inside a native call takes the whole process down (see
//                                                  WorkerPool.retire), which no pool can survive
'use strict';
const { createHash } = require('node:crypto');
const { parentPort, workerData } = require('node:worker_threads');
const ort = require('onnxruntime-node');

const { slot, spawn, faults = {} } = workerData ?? {};
const here = (/** @type {{slot?: number, spawn?: number} | undefined} */ f) => f !== undefined && f.slot === slot && (f.spawn === undefined || f.spawn === spawn);

if (faults.crashAtStart && faults.crashAtStart.slot === slot && spawn < faults.crashAtStart.spawnsBelow) process.exit(1);

/** onnxruntime calls in flight on this thread. */
let native = 0;
/** @template T @param {() => Promise<T>} call @returns {Promise<T>} */
const counted = async (call) => {
  native++;
  try {
    return await call();
  } finally {
    native--;
  }
};

const create = ort.InferenceSession.create.bind(ort.InferenceSession);
/** @type {any} */ (ort.InferenceSession).create = async (/** @type {Uint8Array} */ model, /** @type {any} */ options) => {
  if (here(faults.refuseLoads) && createHash('sha256').update(model).digest('hex') === faults.refuseLoads.sha256) {
    throw new Error(`injected load failure on slot ${slot}`);
  }
  const session = await counted(() => create(model, options));
  const run = session.run.bind(session);
  session.run = here(faults.hangRuns) ? () => new Promise(() => undefined) : (/** @type {any[]} */ ...args) => counted(() => run(...args));
  return session;
};

if (here(faults.crashOn) && parentPort) {
  const port = parentPort;
  let seen = 0;
  let dying = false;
  const on = port.on.bind(port);
  // Filters the messages session-worker.js receives: from the crash on, none reaches it.
  /** @type {any} */ (port).on = (/** @type {string} */ event, /** @type {(msg: any) => void} */ listener) =>
    event !== 'message'
      ? on(event, listener)
      : on('message', (/** @type {any} */ msg) => {
          if (!dying && msg?.type === faults.crashOn.type && seen++ >= (faults.crashOn.after ?? 0)) {
            dying = true;
            const exitWhenIdle = () => (native === 0 ? process.exit(1) : setTimeout(exitWhenIdle, 1));
            exitWhenIdle();
          }
          if (!dying) listener(msg);
        });
}

require('./session-worker.js');
