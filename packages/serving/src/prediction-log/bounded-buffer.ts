/**
 * A FIFO of at most `capacity` items on a ring (O(1) at both ends, no shifting of a large array on the hot
 * path). Full, it makes room by evicting the oldest; the caller counts what was evicted.
 */
export class BoundedBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a whole number >= 1, not ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Appends `item`; returns how many were evicted to make room (0 or 1). */
  push(item: T): number {
    const evicted = this.size === this.capacity ? 1 : 0;
    if (evicted) this.head = (this.head + 1) % this.capacity;
    else this.size++;
    this.items[(this.head + this.size - 1) % this.capacity] = item;
    return evicted;
  }

  /** Removes and returns up to `n` of the oldest items, oldest first. */
  take(n: number): T[] {
    const count = Math.min(n, this.size);
    const out = new Array<T>(count);
    for (let i = 0; i < count; i++) {
      const at = (this.head + i) % this.capacity;
      out[i] = this.items[at] as T;
      this.items[at] = undefined;
    }
    this.head = (this.head + count) % this.capacity;
    this.size -= count;
    return out;
  }

  /**
   * Puts `items` (older than everything held, oldest first) back in front. What does not fit is dropped,
   * oldest first; returns how many were dropped.
   */
  restore(items: readonly T[]): number {
    const room = this.capacity - this.size;
    const dropped = Math.max(0, items.length - room);
    for (let i = items.length - 1; i >= dropped; i--) {
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.items[this.head] = items[i];
      this.size++;
    }
    return dropped;
  }
}
