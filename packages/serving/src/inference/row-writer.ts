import { rowSize, type TensorSpec } from './model-card';
import { allocate, type TensorData, type TensorType, type TypedArrayOf } from './tensor';

/** Where each input of a model sits in a batch: its spec, values per row, and position by name. */
export class InputLayout {
  readonly sizes: number[];
  private readonly index = new Map<string, number>();

  constructor(readonly specs: readonly TensorSpec[]) {
    this.sizes = specs.map((s) => rowSize(s));
    specs.forEach((s, i) => this.index.set(s.name, i));
  }

  position(name: string, type: TensorType): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`the model has no input '${name}' (inputs: ${this.specs.map((s) => s.name).join(', ')})`);
    const spec = this.specs[i] as TensorSpec;
    if (spec.type !== type && !(spec.type === 'bool' && type === 'uint8')) {
      throw new Error(`input '${name}' is ${spec.type}, written as ${type}`);
    }
    return i;
  }

  /** One zeroed buffer per input for `rows` rows. */
  allocate(rows: number): TensorData[] {
    return this.specs.map((s, i) => allocate(s.type, rows * (this.sizes[i] as number)));
  }
}

/**
 * What `featurize` writes one row through: one view per input, sized to the row (`row.float32('features')`
 * is a Float32Array of the input's per-row values). One writer is moved along a batch, so featurizing
 * allocates no object per row beyond the views it asks for.
 */
export class RowWriter {
  private row = 0;

  constructor(
    private readonly layout: InputLayout,
    private readonly buffers: readonly TensorData[],
  ) {}

  /** Moves the writer to row `i` of the batch. */
  at(i: number): this {
    this.row = i;
    return this;
  }

  /** Zeroes the current row of every input (after a refused instance left part of it written). */
  clear(): void {
    this.buffers.forEach((b, i) => {
      const size = this.layout.sizes[i] as number;
      if (b instanceof BigInt64Array) b.fill(0n, this.row * size, (this.row + 1) * size);
      else b.fill(0, this.row * size, (this.row + 1) * size);
    });
  }

  private view<T extends TensorType>(name: string, type: T): TypedArrayOf[T] {
    const i = this.layout.position(name, type);
    const size = this.layout.sizes[i] as number;
    return (this.buffers[i] as TypedArrayOf[T]).subarray(this.row * size, (this.row + 1) * size) as TypedArrayOf[T];
  }

  float32(name: string): Float32Array {
    return this.view(name, 'float32');
  }
  float64(name: string): Float64Array {
    return this.view(name, 'float64');
  }
  int32(name: string): Int32Array {
    return this.view(name, 'int32');
  }
  int64(name: string): BigInt64Array {
    return this.view(name, 'int64');
  }
  /** uint8 and bool inputs (0/1). */
  uint8(name: string): Uint8Array {
    return this.view(name, 'uint8');
  }
}
