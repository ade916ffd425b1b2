// @ts-check
// A worker thread of the inference pool (plain CommonJS so it runs the same from src under jest/tsx and from
// dist). It holds onnxruntime sessions by key and answers load / run / release / status messages from worker-pool.ts.
'use strict';
const { parentPort } = require('node:worker_threads');
const ort = require('onnxruntime-node');

if (!parentPort) throw new Error('session-worker.js must run as a worker thread');
const port = parentPort;

/** @type {Map<string, import('onnxruntime-node').InferenceSession>} */
const sessions = new Map();

/** @param {readonly import('onnxruntime-node').InferenceSession.ValueMetadata[]} meta */
function ioInfo(meta) {
  return meta.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name }));
}

/** @param {any} msg */
async function handle(msg) {
  switch (msg.type) {
    case 'load': {
      // The pool mints a fresh key per load; a key loaded twice is a bug there, not a session to replace.
      if (sessions.has(msg.key)) throw new Error(`session '${msg.key}' is already loaded on this worker`);
      const session = await ort.InferenceSession.create(msg.model, msg.options);
      sessions.set(msg.key, session);
      return { result: { inputs: ioInfo(session.inputMetadata), outputs: ioInfo(session.outputMetadata) } };
    }
    case 'run': {
      const session = sessions.get(msg.key);
      if (!session) throw new Error(`no session '${msg.key}' on this worker`);
      /** @type {Record<string, import('onnxruntime-node').Tensor>} */
      const feeds = {};
      for (const [name, feed] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
      const result = await session.run(feeds);
      /** @type {Record<string, {data: any, dims: readonly number[]}>} */
      const outputs = {};
      /** @type {ArrayBuffer[]} */
      const transfer = [];
      for (const [name, tensor] of Object.entries(result)) {
        // Copy out of onnxruntime's memory into a buffer we own, then hand it over without another copy.
        const data = /** @type {any} */ (tensor.data).slice();
        outputs[name] = { data, dims: tensor.dims };
        transfer.push(data.buffer);
      }
      return { result: outputs, transfer };
    }
    case 'release': {
      const session = sessions.get(msg.key);
      sessions.delete(msg.key);
      if (session) await session.release();
      return { result: null };
    }
    case 'status':
      return { result: { sessions: [...sessions.keys()] } };
    default:
      throw new Error(`unknown message type ${String(msg.type)}`);
  }
}

port.on('message', (msg) => {
  handle(msg).then(
    ({ result, transfer }) => port.postMessage({ id: msg.id, ok: true, result }, transfer ?? []),
    (error) => port.postMessage({ id: msg.id, ok: false, error: { message: String(error?.message ?? error), stack: error?.stack } }),
  );
});
