/** Parent id of the root, and "no node" in general. */
export const NO_NODE = -1;
/** The root's id: always live, never freed, empty edge. */
export const ROOT = 0;

/** Bytes per node across all per-node arrays (see {@link NodeStore} layout). */
const BYTES_PER_NODE = 8 + 6 * 4 + 1;

/**
 * Radix tree nodes as struct-of-arrays in one SharedArrayBuffer: no JS object per node, so millions
 * of tokens cost no GC work. A node's edge is `edgeLength` tokens at `edgeOffset` in the edge arena.
 * Freed ids go on a free stack and are reused before the store grows; growing reallocates a buffer
 * of twice the capacity and copies (so anyone holding {@link shared} must re-read it after a grow).
 *
 * Layout for capacity C: `Float64[C]` lastAccess, then `Int32[C]` each of parent, edgeOffset,
 * edgeLength, childCount, lockRef, freeStack, then `Uint8[C]` live flags.
 */
export class NodeStore {
  /** The current buffer holding every per-node array. */
  shared!: SharedArrayBuffer;
  /** Logical time of the last match or insert that passed through the node (LRU key). */
  lastAccess!: Float64Array;
  parent!: Int32Array;
  edgeOffset!: Int32Array;
  edgeLength!: Int32Array;
  childCount!: Int32Array;
  /** Number of requests holding this node (or a descendant) locked. */
  lockRef!: Int32Array;
  private freeStack!: Int32Array;
  private live!: Uint8Array;
  private freeCount = 0;

  constructor(initialCapacity: number) {
    this.attach(new SharedArrayBuffer(Math.max(2, initialCapacity) * BYTES_PER_NODE));
    this.releaseAllButRoot();
  }

  /** Number of node ids the current buffer holds. */
  get capacity(): number {
    return this.parent.length;
  }

  /** Whether `node` is a live node id (false for any non-id value). */
  isLive(node: number): boolean {
    return Number.isInteger(node) && node >= 0 && node < this.capacity && this.live[node] === 1;
  }

  /** Takes a free node id (growing the store when none is left), with every field reset. */
  allocate(): number {
    if (this.freeCount === 0) this.grow();
    const node = this.freeStack[--this.freeCount]!;
    this.parent[node] = NO_NODE;
    this.edgeOffset[node] = 0;
    this.edgeLength[node] = 0;
    this.childCount[node] = 0;
    this.lockRef[node] = 0;
    this.lastAccess[node] = 0;
    this.live[node] = 1;
    return node;
  }

  /** Returns a node id to the free stack. */
  release(node: number): void {
    this.live[node] = 0;
    this.freeStack[this.freeCount++] = node;
  }

  /** Frees every node but the root and clears the root's fields. */
  releaseAllButRoot(): void {
    const capacity = this.capacity;
    this.live.fill(0);
    this.live[ROOT] = 1;
    this.parent[ROOT] = NO_NODE;
    this.edgeOffset[ROOT] = 0;
    this.edgeLength[ROOT] = 0;
    this.childCount[ROOT] = 0;
    this.lockRef[ROOT] = 0;
    this.lastAccess[ROOT] = 0;
    // Lowest ids on top, so ids are handed out in increasing order.
    this.freeCount = 0;
    for (let node = capacity - 1; node > ROOT; node--) this.freeStack[this.freeCount++] = node;
  }

  private grow(): void {
    const oldCapacity = this.capacity;
    const old = { lastAccess: this.lastAccess, parent: this.parent, edgeOffset: this.edgeOffset,
      edgeLength: this.edgeLength, childCount: this.childCount, lockRef: this.lockRef, live: this.live };
    this.attach(new SharedArrayBuffer(oldCapacity * 2 * BYTES_PER_NODE));
    this.lastAccess.set(old.lastAccess);
    this.parent.set(old.parent);
    this.edgeOffset.set(old.edgeOffset);
    this.edgeLength.set(old.edgeLength);
    this.childCount.set(old.childCount);
    this.lockRef.set(old.lockRef);
    this.live.set(old.live);
    // Only called with an empty free stack, so it holds just the new ids.
    for (let node = oldCapacity * 2 - 1; node >= oldCapacity; node--) this.freeStack[this.freeCount++] = node;
  }

  private attach(buffer: SharedArrayBuffer): void {
    const capacity = buffer.byteLength / BYTES_PER_NODE;
    let at = 0;
    const int32 = (): Int32Array => {
      const array = new Int32Array(buffer, at, capacity);
      at += capacity * 4;
      return array;
    };
    this.shared = buffer;
    this.lastAccess = new Float64Array(buffer, 0, capacity);
    at = capacity * 8;
    this.parent = int32();
    this.edgeOffset = int32();
    this.edgeLength = int32();
    this.childCount = int32();
    this.lockRef = int32();
    this.freeStack = int32();
    this.live = new Uint8Array(buffer, at, capacity);
  }
}
