import { KvCacheError } from './errors.js';

/** Int32 fields of the stats header. Evictable tokens are derived: total minus protected. */
const TOTAL_TOKENS = 0;
const PROTECTED_TOKENS = 1;
const NODE_COUNT = 2;
const FIELD_COUNT = 3;

/** Byte length of a stats header buffer. */
export const STATS_BYTE_LENGTH = FIELD_COUNT * 4;

/**
 * Read-only view of a radix tree's counters in a small SharedArrayBuffer that never moves (unlike
 * the node and arena buffers, which are replaced when they grow), so another thread can keep one
 * view for the tree's whole life. Each read is atomic; two reads may straddle one tree update.
 */
export class RadixTreeStats {
  protected readonly fields: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength !== STATS_BYTE_LENGTH) {
      throw new KvCacheError(
        `radix tree stats buffer is ${buffer.byteLength} bytes, expected ${STATS_BYTE_LENGTH}`,
      );
    }
    this.fields = new Int32Array(buffer);
  }

  /** Tokens (= KV slots) held by the tree. */
  get totalTokens(): number {
    return Atomics.load(this.fields, TOTAL_TOKENS);
  }

  /** Tokens in nodes no request has locked: what {@link RadixTree.evict} can free. */
  get evictableTokens(): number {
    return this.totalTokens - this.protectedTokens;
  }

  /** Tokens in nodes that some running request has locked. */
  get protectedTokens(): number {
    return Atomics.load(this.fields, PROTECTED_TOKENS);
  }

  /** Live nodes other than the root. */
  get nodeCount(): number {
    return Atomics.load(this.fields, NODE_COUNT);
  }
}

/** The tree's own writable side of {@link RadixTreeStats}. */
export class RadixTreeCounters extends RadixTreeStats {
  addTotalTokens(delta: number): void {
    Atomics.add(this.fields, TOTAL_TOKENS, delta);
  }

  addProtectedTokens(delta: number): void {
    Atomics.add(this.fields, PROTECTED_TOKENS, delta);
  }

  addNodeCount(delta: number): void {
    Atomics.add(this.fields, NODE_COUNT, delta);
  }

  clear(): void {
    this.fields.fill(0);
  }
}
