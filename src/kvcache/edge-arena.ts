/**
 * Token ids and KV slot ids of every radix-tree edge, in two parallel Int32Arrays over one
 * SharedArrayBuffer (tokens first, then slots). An edge is a range `[offset, offset + length)` in
 * both. Space is handed out by bumping {@link used}; ranges of evicted edges become garbage that is
 * reclaimed by copying the live edges into a fresh arena (see `RadixTree`), so splitting an edge
 * needs no copy: the two halves keep their halves of the range.
 */
export class EdgeArena {
  readonly shared: SharedArrayBuffer;
  /** Token id at each arena position. */
  readonly tokens: Int32Array;
  /** KV slot id holding that token's K/V. */
  readonly slots: Int32Array;
  /** Positions handed out so far (live edges plus garbage). */
  used = 0;

  constructor(capacity: number) {
    this.shared = new SharedArrayBuffer(capacity * 8);
    this.tokens = new Int32Array(this.shared, 0, capacity);
    this.slots = new Int32Array(this.shared, capacity * 4, capacity);
  }

  /** Number of positions the arena holds. */
  get capacity(): number {
    return this.tokens.length;
  }

  /** Whether `length` more positions fit without reclaiming garbage. */
  hasRoom(length: number): boolean {
    return this.used + length <= this.capacity;
  }

  /** Stores `tokens[from..to)` with their `slots[from..to)`; returns the new range's offset. Needs room. */
  append(tokens: ArrayLike<number>, slots: ArrayLike<number>, from: number, to: number): number {
    const offset = this.used;
    for (let i = from; i < to; i++) {
      this.tokens[offset + i - from] = tokens[i]!;
      this.slots[offset + i - from] = slots[i]!;
    }
    this.used += to - from;
    return offset;
  }

  /** Copies one edge's range out of `source` into this arena; returns its offset here. Needs room. */
  copyFrom(source: EdgeArena, offset: number, length: number): number {
    const at = this.used;
    this.tokens.set(source.tokens.subarray(offset, offset + length), at);
    this.slots.set(source.slots.subarray(offset, offset + length), at);
    this.used += length;
    return at;
  }
}
