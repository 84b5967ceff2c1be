/** Entry layout: three Int32s per bucket. */
const ENTRY_PARENT = 0;
const ENTRY_TOKEN = 1;
const ENTRY_CHILD = 2;
const ENTRY_INTS = 3;
/** A bucket whose parent field holds this is empty (node ids are never negative). */
const EMPTY = -1;
/** Buckets are kept at most half full so probe runs stay short. */
const MAX_LOAD = 0.5;

/** Value returned by {@link ChildTable.get} when the edge does not exist. */
export const NO_CHILD = -1;

function hashEdge(parent: number, token: number): number {
  let h = Math.imul(parent, 0x9e3779b1) ^ token;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The radix tree's child index: (parent node, first token of the child's edge) → child node, as an
 * open-addressing hash table (linear probing, backward-shift deletion, so no tombstones pile up
 * under churn) in one Int32Array over a SharedArrayBuffer. Grows by rehashing into a new buffer.
 */
export class ChildTable {
  /** The table's current buffer; replaced when the table grows. */
  shared: SharedArrayBuffer;
  private entries: Int32Array;
  private mask: number;
  private entryCount = 0;

  constructor(initialBuckets: number) {
    let buckets = 8;
    while (buckets < initialBuckets) buckets *= 2;
    this.shared = new SharedArrayBuffer(buckets * ENTRY_INTS * 4);
    this.entries = new Int32Array(this.shared);
    this.entries.fill(EMPTY);
    this.mask = buckets - 1;
  }

  /** Number of (parent, token) → child entries. */
  get size(): number {
    return this.entryCount;
  }

  /** The child of `parent` whose edge starts with `token`, or {@link NO_CHILD}. */
  get(parent: number, token: number): number {
    const entries = this.entries;
    for (let b = hashEdge(parent, token) & this.mask; ; b = (b + 1) & this.mask) {
      const at = b * ENTRY_INTS;
      const p = entries[at + ENTRY_PARENT]!;
      if (p === EMPTY) return NO_CHILD;
      if (p === parent && entries[at + ENTRY_TOKEN] === token) return entries[at + ENTRY_CHILD]!;
    }
  }

  /** Points (parent, token) at `child`, adding the entry or replacing its child. */
  set(parent: number, token: number, child: number): void {
    if ((this.entryCount + 1) > MAX_LOAD * (this.mask + 1)) this.rehash((this.mask + 1) * 2);
    const entries = this.entries;
    for (let b = hashEdge(parent, token) & this.mask; ; b = (b + 1) & this.mask) {
      const at = b * ENTRY_INTS;
      const p = entries[at + ENTRY_PARENT]!;
      if (p === EMPTY) {
        entries[at + ENTRY_PARENT] = parent;
        entries[at + ENTRY_TOKEN] = token;
        entries[at + ENTRY_CHILD] = child;
        this.entryCount++;
        return;
      }
      if (p === parent && entries[at + ENTRY_TOKEN] === token) {
        entries[at + ENTRY_CHILD] = child;
        return;
      }
    }
  }

  /** Removes the (parent, token) entry if present. */
  delete(parent: number, token: number): void {
    const entries = this.entries;
    const mask = this.mask;
    let hole = hashEdge(parent, token) & mask;
    for (; ; hole = (hole + 1) & mask) {
      const at = hole * ENTRY_INTS;
      const p = entries[at + ENTRY_PARENT]!;
      if (p === EMPTY) return;
      if (p === parent && entries[at + ENTRY_TOKEN] === token) break;
    }
    // Backward shift: pull later entries of the probe run into the hole when their home bucket
    // does not lie cyclically in (hole, b], so every entry stays reachable from its home.
    for (let b = (hole + 1) & mask; ; b = (b + 1) & mask) {
      const at = b * ENTRY_INTS;
      const p = entries[at + ENTRY_PARENT]!;
      if (p === EMPTY) break;
      const home = hashEdge(p, entries[at + ENTRY_TOKEN]!) & mask;
      const stays = hole <= b ? hole < home && home <= b : hole < home || home <= b;
      if (stays) continue;
      entries.copyWithin(hole * ENTRY_INTS, at, at + ENTRY_INTS);
      hole = b;
    }
    entries[hole * ENTRY_INTS + ENTRY_PARENT] = EMPTY;
    this.entryCount--;
  }

  /** Removes every entry, keeping the buffer. */
  clear(): void {
    this.entries.fill(EMPTY);
    this.entryCount = 0;
  }

  private rehash(buckets: number): void {
    const old = this.entries;
    this.shared = new SharedArrayBuffer(buckets * ENTRY_INTS * 4);
    this.entries = new Int32Array(this.shared);
    this.entries.fill(EMPTY);
    this.mask = buckets - 1;
    this.entryCount = 0;
    for (let at = 0; at < old.length; at += ENTRY_INTS) {
      const p = old[at + ENTRY_PARENT]!;
      if (p !== EMPTY) this.set(p, old[at + ENTRY_TOKEN]!, old[at + ENTRY_CHILD]!);
    }
  }
}
