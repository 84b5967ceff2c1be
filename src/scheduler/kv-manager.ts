import { RadixTree, SlotAllocator } from '../kvcache/index.js';
import { NO_NODE } from './request-state.js';
import type { RequestState } from './request-state.js';

/**
 * The scheduler's view of KV memory: the slot allocator plus the radix tree, with the SGLang
 * life cycle of a request's slots (match + lock at admission, insert after each prefill chunk and
 * at the end, free what the tree does not keep).
 */
export class KvManager {
  readonly allocator: SlotAllocator;
  readonly tree: RadixTree;

  constructor(capacity: number, radixCache: boolean) {
    this.allocator = new SlotAllocator(capacity);
    this.tree = new RadixTree({ enabled: radixCache });
  }

  /** Free slots plus what eviction could free now. */
  available(): number {
    return this.allocator.freeCount + this.tree.evictableTokens;
  }

  /** n slots, evicting least-recently-used cache leaves when needed; null when even that is not enough. */
  alloc(n: number): Int32Array | null {
    if (n === 0) return new Int32Array(0);
    const short = n - this.allocator.freeCount;
    if (short > 0) this.tree.evict(short, (slots) => this.allocator.free(slots));
    return this.allocator.alloc(n);
  }

  /** Longest cached prefix (at most `limit` tokens) for a request being admitted; locks it. */
  attachPrefix(r: RequestState, tokens: readonly number[], limit: number): void {
    const match = this.tree.matchPrefix(tokens.slice(0, Math.max(0, limit)));
    this.tree.lock(match.node);
    r.lockedNode = match.node;
    r.slots = Array.from(match.slots);
    r.treeLen = match.length;
  }

  /**
   * Puts the request's computed tokens into the tree and swaps its own duplicate slots for the
   * tree's; keeps the new path locked unless `release`.
   */
  cache(r: RequestState, release: boolean): void {
    const n = r.slots.length;
    const tokens = r.allTokens().slice(0, n);
    if (!this.tree.enabled) {
      if (release) this.release(r);
      return;
    }
    const kept = this.tree.insert(tokens, r.slots);
    if (kept > r.treeLen) this.allocator.free(r.slots.slice(r.treeLen, kept));
    const oldNode = r.lockedNode;
    if (release) {
      if (oldNode !== NO_NODE) this.tree.unlock(oldNode);
      r.lockedNode = NO_NODE;
      r.slots = [];
      r.treeLen = 0;
      return;
    }
    const match = this.tree.matchPrefix(tokens);
    this.tree.lock(match.node);
    if (oldNode !== NO_NODE) this.tree.unlock(oldNode);
    r.lockedNode = match.node;
    r.slots = Array.from(match.slots);
    r.treeLen = match.length;
  }

  /** Frees the request's own slots and its lock without caching anything (abort, failure, retraction). */
  release(r: RequestState): void {
    const own = r.ownSlots();
    if (own.length) this.allocator.free(own);
    if (r.lockedNode !== NO_NODE) this.tree.unlock(r.lockedNode);
    r.lockedNode = NO_NODE;
    r.slots = [];
    r.treeLen = 0;
  }

  /** Empties the radix cache; false while any request holds a lock. */
  flush(): boolean {
    if (this.tree.protectedTokens > 0) return false;
    this.tree.reset((slots) => this.allocator.free(slots));
    return true;
  }
}
