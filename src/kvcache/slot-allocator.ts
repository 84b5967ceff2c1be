import { KvCacheError } from './errors.js';

/** Int32 header fields at the start of the pool buffer. */
const HEADER_CAPACITY = 0;
const HEADER_FREE_COUNT = 1;
const HEADER_INTS = 2;

/** Per-slot state bytes, kept so a double free is caught at the call that makes it. */
const SLOT_FREE = 0;
const SLOT_IN_USE = 1;

function poolByteLength(capacity: number): number {
  return HEADER_INTS * 4 + capacity * 4 + capacity;
}

/**
 * The pool of KV slots (one token's K and V each; ids `0..capacity-1`). The free list is a stack of
 * slot ids in a SharedArrayBuffer, followed by one state byte per slot, so any thread can read the
 * counts; only one thread (the scheduler) may call {@link alloc} / {@link free}.
 *
 * Buffer layout: `Int32[2]` header (capacity, free count), `Int32[capacity]` free stack,
 * `Uint8[capacity]` slot states.
 */
export class SlotAllocator {
  /** The buffer holding the whole pool; pass it to {@link SlotAllocator.fromShared} in another thread. */
  readonly shared: SharedArrayBuffer;
  /** Number of slots in the pool. */
  readonly capacity: number;
  private readonly header: Int32Array;
  private readonly freeStack: Int32Array;
  private readonly slotState: Uint8Array;

  /** Creates a pool of `capacity` slots, all free. */
  constructor(capacity: number);
  /** Adopts an existing pool buffer; use {@link SlotAllocator.fromShared}. */
  constructor(capacity: number, adopt: SharedArrayBuffer);
  constructor(capacity: number, adopt?: SharedArrayBuffer) {
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 0x7fffffff) {
      throw new KvCacheError(`SlotAllocator capacity must be an integer in [0, 2^31), got ${capacity}`);
    }
    this.capacity = capacity;
    this.shared = adopt ?? new SharedArrayBuffer(poolByteLength(capacity));
    this.header = new Int32Array(this.shared, 0, HEADER_INTS);
    this.freeStack = new Int32Array(this.shared, HEADER_INTS * 4, capacity);
    this.slotState = new Uint8Array(this.shared, HEADER_INTS * 4 + capacity * 4, capacity);
    if (adopt === undefined) {
      // Lowest ids on top of the stack, so a fresh pool hands out 0, 1, 2, ...
      for (let i = 0; i < capacity; i++) this.freeStack[i] = capacity - 1 - i;
      this.header[HEADER_CAPACITY] = capacity;
      Atomics.store(this.header, HEADER_FREE_COUNT, capacity);
    }
  }

  /** Attaches to a pool created elsewhere (e.g. in the scheduler thread) to read its counts. */
  static fromShared(buffer: SharedArrayBuffer): SlotAllocator {
    if (buffer.byteLength < HEADER_INTS * 4) {
      throw new KvCacheError(`SlotAllocator buffer is ${buffer.byteLength} bytes, too short for its header`);
    }
    const capacity = Atomics.load(new Int32Array(buffer, 0, HEADER_INTS), HEADER_CAPACITY);
    if (buffer.byteLength !== poolByteLength(capacity)) {
      throw new KvCacheError(
        `SlotAllocator buffer is ${buffer.byteLength} bytes but its header capacity ${capacity} needs ` +
          `${poolByteLength(capacity)}`,
      );
    }
    return new SlotAllocator(capacity, buffer);
  }

  /** Number of free slots now. */
  get freeCount(): number {
    return Atomics.load(this.header, HEADER_FREE_COUNT);
  }

  /**
   * Takes `n` free slots. Returns null (and takes nothing) when fewer than `n` are free: a partial
   * grant would leave the caller holding slots it cannot use.
   */
  alloc(n: number): Int32Array | null {
    if (!Number.isInteger(n) || n < 0) throw new KvCacheError(`alloc: n must be a non-negative integer, got ${n}`);
    const free = this.freeCount;
    if (n > free) return null;
    const slots = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const slot = this.freeStack[free - 1 - i]!;
      slots[i] = slot;
      this.slotState[slot] = SLOT_IN_USE;
    }
    Atomics.store(this.header, HEADER_FREE_COUNT, free - n);
    return slots;
  }

  /**
   * Returns slots to the pool. Every slot must be in range and in use, and appear once; otherwise
   * nothing is freed and a {@link KvCacheError} names the first bad slot.
   */
  free(slots: ArrayLike<number>): void {
    const count = slots.length;
    for (let i = 0; i < count; i++) {
      const slot = slots[i]!;
      const problem = !Number.isInteger(slot) || slot < 0 || slot >= this.capacity
        ? `slot ${slot} is out of range [0, ${this.capacity})`
        : this.slotState[slot] === SLOT_FREE
          ? `slot ${slot} is already free (double free)`
          : undefined;
      if (problem !== undefined) {
        // Undo this call's marks so a rejected free leaves the pool exactly as it was.
        for (let j = 0; j < i; j++) this.slotState[slots[j]!] = SLOT_IN_USE;
        throw new KvCacheError(`free: ${problem}`);
      }
      // Marking now also catches the same slot twice within this call.
      this.slotState[slot] = SLOT_FREE;
    }
    const free = this.freeCount;
    // Pushed in reverse so an immediate alloc(count) hands the same slots back in the same order.
    for (let i = 0; i < count; i++) this.freeStack[free + i] = slots[count - 1 - i]!;
    Atomics.store(this.header, HEADER_FREE_COUNT, free + count);
  }

  /** Whether `slot` is in the free list (false for an out-of-range id). */
  isFree(slot: number): boolean {
    return Number.isInteger(slot) && slot >= 0 && slot < this.capacity && this.slotState[slot] === SLOT_FREE;
  }

  /** A copy of the free list, top of stack last. */
  freeSlots(): Int32Array {
    return this.freeStack.slice(0, this.freeCount);
  }
}
