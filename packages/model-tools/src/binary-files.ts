import { readFileSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';

/**
 * Matrices and vectors between the TypeScript export and Python's numpy.fromfile: raw little-endian bytes
 * (`<f4`, `u1`, ...), no header; the row count comes from the file size and meta.json.
 */

export function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('training matrices are written in host byte order, which must be little-endian');
}

export function writeArray(file: string, a: Float32Array | Float64Array | Uint8Array | Int32Array): void {
  assertLittleEndian();
  writeFileSync(file, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
}

export function readFloat32(file: string): Float32Array {
  assertLittleEndian();
  const b = readFileSync(file);
  if (b.byteLength % 4 !== 0) throw new Error(`${file}: ${b.byteLength} bytes is not a whole number of float32 values`);
  // Copy: a Buffer from readFileSync may share a pool and start at an offset not aligned to 4.
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
