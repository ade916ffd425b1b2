import { BoundedBuffer } from './bounded-buffer';

describe('BoundedBuffer', () => {
  it('keeps order across the ring and evicts the oldest when full', () => {
    const buffer = new BoundedBuffer<number>(3);
    expect([1, 2, 3].map((n) => buffer.push(n))).toEqual([0, 0, 0]);
    expect(buffer.push(4)).toBe(1);
    expect(buffer.push(5)).toBe(1);
    expect(buffer.length).toBe(3);
    expect(buffer.take(2)).toEqual([3, 4]);
    buffer.push(6);
    buffer.push(7);
    expect(buffer.take(10)).toEqual([5, 6, 7]);
    expect(buffer.length).toBe(0);
    expect(buffer.take(1)).toEqual([]);
  });

  it('restores taken items in front, dropping the oldest that no longer fit', () => {
    const buffer = new BoundedBuffer<number>(4);
    [1, 2, 3].forEach((n) => buffer.push(n));
    const inFlight = buffer.take(3);
    [4, 5].forEach((n) => buffer.push(n));
    // Room for 2 of the 3: the oldest (1) is dropped.
    expect(buffer.restore(inFlight)).toBe(1);
    expect(buffer.take(4)).toEqual([2, 3, 4, 5]);
    buffer.push(9);
    expect(buffer.restore([7, 8])).toBe(0);
    expect(buffer.take(4)).toEqual([7, 8, 9]);
  });

  it('refuses a capacity below one', () => {
    expect(() => new BoundedBuffer(0)).toThrow(RangeError);
  });
});
