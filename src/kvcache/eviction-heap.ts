const NOT_IN_HEAP = -1;

/**
 * The eviction candidates (unlocked leaves) as an indexed binary min-heap keyed by last-access
 * time, ties broken by node id so eviction order is deterministic. `position[node]` tracks each
 * node's heap index so a lock, a touch or a new child can remove or re-key it in O(log n) instead
 * of rebuilding the heap on every eviction. Private to the scheduler thread: plain ArrayBuffers.
 */
export class EvictionHeap {
  private nodes = new Int32Array(16);
  private keys = new Float64Array(16);
  private position = new Int32Array(16).fill(NOT_IN_HEAP);
  private count = 0;

  /** Number of candidates. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the heap's arrays (for memory accounting). */
  get byteLength(): number {
    return this.nodes.byteLength + this.keys.byteLength + this.position.byteLength;
  }

  /** Whether `node` is a candidate. */
  has(node: number): boolean {
    return node < this.position.length && this.position[node]! !== NOT_IN_HEAP;
  }

  /** Adds `node` with `key`; it must not be in the heap already. */
  push(node: number, key: number): void {
    if (node >= this.position.length) this.growPositions(node + 1);
    if (this.count === this.nodes.length) this.growEntries();
    const at = this.count++;
    this.place(at, node, key);
    this.siftUp(at);
  }

  /** Changes `node`'s key if it is a candidate. */
  update(node: number, key: number): void {
    if (!this.has(node)) return;
    const at = this.position[node]!;
    const oldKey = this.keys[at]!;
    this.keys[at] = key;
    if (key > oldKey) this.siftDown(at);
    else this.siftUp(at);
  }

  /** Removes `node` if it is a candidate. */
  remove(node: number): void {
    if (!this.has(node)) return;
    const at = this.position[node]!;
    this.position[node] = NOT_IN_HEAP;
    const last = --this.count;
    if (at === last) return;
    this.place(at, this.nodes[last]!, this.keys[last]!);
    this.siftDown(at);
    this.siftUp(at);
  }

  /** Removes and returns the least recently used candidate; the heap must not be empty. */
  popOldest(): number {
    const oldest = this.nodes[0]!;
    this.remove(oldest);
    return oldest;
  }

  /** Removes every candidate. */
  clear(): void {
    for (let at = 0; at < this.count; at++) this.position[this.nodes[at]!] = NOT_IN_HEAP;
    this.count = 0;
  }

  private before(a: number, b: number): boolean {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    return ka < kb || (ka === kb && this.nodes[a]! < this.nodes[b]!);
  }

  private place(at: number, node: number, key: number): void {
    this.nodes[at] = node;
    this.keys[at] = key;
    this.position[node] = at;
  }

  private swap(a: number, b: number): void {
    const node = this.nodes[a]!;
    const key = this.keys[a]!;
    this.place(a, this.nodes[b]!, this.keys[b]!);
    this.place(b, node, key);
  }

  private siftUp(at: number): void {
    while (at > 0) {
      const up = (at - 1) >> 1;
      if (!this.before(at, up)) return;
      this.swap(at, up);
      at = up;
    }
  }

  private siftDown(at: number): void {
    for (;;) {
      const left = 2 * at + 1;
      if (left >= this.count) return;
      const right = left + 1;
      const child = right < this.count && this.before(right, left) ? right : left;
      if (!this.before(child, at)) return;
      this.swap(at, child);
      at = child;
    }
  }

  private growEntries(): void {
    const nodes = new Int32Array(this.nodes.length * 2);
    nodes.set(this.nodes);
    this.nodes = nodes;
    const keys = new Float64Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
  }

  private growPositions(minLength: number): void {
    let length = this.position.length * 2;
    while (length < minLength) length *= 2;
    const position = new Int32Array(length).fill(NOT_IN_HEAP);
    position.set(this.position);
    this.position = position;
  }
}
