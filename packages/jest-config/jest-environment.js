// Jest runs each test file in its own V8 context, so a typed array made by onnxruntime-node's native
// addon (outer realm) fails `instanceof Float32Array` checks inside the sandbox. Sharing the outer realm's
// typed-array constructors with the sandbox makes both sides agree.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array',
  'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class OnnxFriendlyEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OnnxFriendlyEnvironment;
