import { RadixTree, SlotAllocator, SlotTable } from '../kvcache/index.js';
import { NO_NODE, NO_ROW } from './request-state.js';
import type { RequestState } from './request-state.js';

/**
 * The scheduler's view of KV memory: the slot allocator plus the radix tree, with the SGLang
 * life cycle of a request's slots (match + lock at admission, insert after each prefill chunk and
 * at the end, free what the tree does not keep). Every request holding KV also holds a row of the
 * {@link SlotTable} the shards read its slots from; each slot is written there once.
 */
export class KvManager {
  readonly allocator: SlotAllocator;
  readonly tree: RadixTree;
  readonly table: SlotTable;

  /** `table` defaults to one of `rows` × `width` (the scheduler worker passes the one its shards read). */
  constructor(capacity: number, radixCache: boolean, table: SlotTable | { rows: number; width: number }) {
    this.allocator = new SlotAllocator(capacity);
    this.tree = new RadixTree({ enabled: radixCache });
    this.table = table instanceof SlotTable ? table : new SlotTable(table.rows, table.width, capacity);
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
    if (r.row === NO_ROW) r.row = this.table.acquire();
    this.table.write(r.row, 0, match.slots);
  }

  /** Records a step's new slots for `r` at positions `from…` (the shards read them from its row). */
  planSlots(r: RequestState, from: number, slots: Int32Array): void {
    this.table.write(r.row, from, slots);
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
      this.releaseRow(r);
      return;
    }
    const match = this.tree.matchPrefix(tokens);
    this.tree.lock(match.node);
    if (oldNode !== NO_NODE) this.tree.unlock(oldNode);
    // Only positions from the old tree length on can have changed (own duplicates → the tree's).
    const changedFrom = r.treeLen;
    r.lockedNode = match.node;
    r.slots = Array.from(match.slots);
    r.treeLen = match.length;
    this.table.write(r.row, changedFrom, match.slots.subarray(changedFrom));
  }

  /** Frees the request's own slots and its lock without caching anything (abort, failure, retraction). */
  release(r: RequestState): void {
    const own = r.ownSlots();
    if (own.length) this.allocator.free(own);
    if (r.lockedNode !== NO_NODE) this.tree.unlock(r.lockedNode);
    r.lockedNode = NO_NODE;
    r.slots = [];
    r.treeLen = 0;
    this.releaseRow(r);
  }

  private releaseRow(r: RequestState): void {
    if (r.row === NO_ROW) return;
    this.table.release(r.row);
    r.row = NO_ROW;
  }

  /** Empties the radix cache; false while any request holds a lock. */
  flush(): boolean {
    if (this.tree.protectedTokens > 0) return false;
    this.tree.reset((slots) => this.allocator.free(slots));
    return true;
  }
}
