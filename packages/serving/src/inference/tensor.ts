/**
 * The tensor element types a model card may declare, the typed array that holds each, and helpers to
 * allocate and concatenate per-input buffers. One place knows the mapping, so the card check, the row
 * writer, the batcher and the worker thread agree.
 */
export const TENSOR_TYPES = ['float32', 'float64', 'int32', 'int64', 'uint8', 'bool'] as const;
export type TensorType = (typeof TENSOR_TYPES)[number];

export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}
export type TensorData = TypedArrayOf[TensorType];

type Ctor = { new (length: number): TensorData; readonly BYTES_PER_ELEMENT: number };

const CONSTRUCTORS: Record<TensorType, Ctor> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

export function allocate<T extends TensorType>(type: T, length: number): TypedArrayOf[T] {
  return new CONSTRUCTORS[type](length) as TypedArrayOf[T];
}

export function bytesPerElement(type: TensorType): number {
  return CONSTRUCTORS[type].BYTES_PER_ELEMENT;
}

/** Does `data` hold elements of `type` (its typed-array class)? */
export function holds(type: TensorType, data: TensorData): boolean {
  return data instanceof CONSTRUCTORS[type];
}
