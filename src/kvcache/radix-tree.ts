import { ChildTable, NO_CHILD } from './child-table.js';
import { EdgeArena } from './edge-arena.js';
import { KvCacheError } from './errors.js';
import { EvictionHeap } from './eviction-heap.js';
import { NodeStore, ROOT } from './node-store.js';
import { RadixTreeCounters, RadixTreeStats, STATS_BYTE_LENGTH } from './radix-tree-stats.js';

/** Options for {@link RadixTree}. */
export interface RadixTreeOptions {
  /**
   * false switches prefix caching off while keeping the caller's code path: nothing is stored,
   * every match is empty, every insert hands all slots back to the caller. Default true.
   */
  readonly enabled?: boolean;
  /** Node ids to make room for up front; the store doubles when full. Default 1024. */
  readonly initialNodes?: number;
  /** Edge-arena positions (tokens) to make room for up front, and the arena's minimum size. Default 16384. */
  readonly initialTokens?: number;
}

/** Result of {@link RadixTree.matchPrefix}. */
export interface PrefixMatch {
  /** Number of leading tokens found in the tree. */
  readonly length: number;
  /** The tree's KV slots for those tokens (a copy, `length` long). */
  readonly slots: Int32Array;
  /** The node whose edge ends exactly at `length` (the root when `length` is 0); lock it to keep the prefix. */
  readonly node: number;
}

/**
 * The tree's SharedArrayBuffers. `stats` never changes; the others are replaced when they grow or
 * the arena is compacted, so re-read {@link RadixTree.shared} after any tree update.
 */
export interface RadixTreeShared {
  /** Counters; pass the whole object to {@link RadixTree.view} in another thread. */
  readonly stats: SharedArrayBuffer;
  /** Per-node arrays (see `NodeStore`). */
  readonly nodes: SharedArrayBuffer;
  /** (parent, first token) → child hash table (see `ChildTable`). */
  readonly children: SharedArrayBuffer;
  /** Edge tokens and slots (see `EdgeArena`). */
  readonly edges: SharedArrayBuffer;
}

/** One node as reported by {@link RadixTree.nodes}: copies, for tests and invariant checks. */
export interface RadixNodeInfo {
  readonly node: number;
  /** Parent id; the root's id for a top-level edge. */
  readonly parent: number;
  /** Token ids on the edge into this node. */
  readonly tokens: Int32Array;
  /** KV slots of those tokens. */
  readonly slots: Int32Array;
  readonly lockRef: number;
  readonly lastAccess: number;
}

const DEFAULT_INITIAL_NODES = 1024;
const DEFAULT_INITIAL_TOKENS = 16384;
const NO_SLOTS = new Int32Array(0);
/** A compacted arena is this many times the live edges it holds (see `reserveArena`). */
const ARENA_SLACK = 1.5;

/**
 * RadixAttention's prefix cache (SGLang semantics): maps token sequences to the KV slots that
 * hold them, shares common prefixes, and evicts least-recently-used unlocked leaves.
 *
 * Storage is struct-of-arrays over SharedArrayBuffers (nodes, a child hash table, an edge arena),
 * so it holds millions of tokens without a JS object per node and other threads can read
 * {@link RadixTree.view stats}. One thread (the scheduler) owns and mutates it.
 *
 * Slot ownership: of the slots passed to {@link insert}, those from its return value on become the
 * tree's; the tree hands them back only through the `onFree` callback of {@link evict} / {@link reset}.
 */
export class RadixTree {
  /** Whether prefix caching is on (see {@link RadixTreeOptions.enabled}). */
  readonly enabled: boolean;
  /** The root's node id: matches of length 0 return it; locking it is a no-op. */
  readonly root = ROOT;
  private readonly nodeStore: NodeStore;
  private readonly childTable: ChildTable;
  private arena: EdgeArena;
  private readonly minArenaCapacity: number;
  private readonly evictionHeap = new EvictionHeap();
  private readonly statsBuffer = new SharedArrayBuffer(STATS_BYTE_LENGTH);
  private readonly counters = new RadixTreeCounters(this.statsBuffer);
  /** Logical clock for LRU: one tick per match or insert, so order is exact and deterministic. */
  private clock = 0;

  constructor(options: RadixTreeOptions = {}) {
    const initialNodes = options.initialNodes ?? DEFAULT_INITIAL_NODES;
    const initialTokens = options.initialTokens ?? DEFAULT_INITIAL_TOKENS;
    if (!Number.isInteger(initialNodes) || initialNodes < 1) {
      throw new KvCacheError(`RadixTree initialNodes must be a positive integer, got ${initialNodes}`);
    }
    if (!Number.isInteger(initialTokens) || initialTokens < 1) {
      throw new KvCacheError(`RadixTree initialTokens must be a positive integer, got ${initialTokens}`);
    }
    this.enabled = options.enabled ?? true;
    this.nodeStore = new NodeStore(initialNodes);
    this.childTable = new ChildTable(initialNodes * 2);
    this.minArenaCapacity = initialTokens;
    this.arena = new EdgeArena(initialTokens);
  }

  /** A read-only view of the counters of a tree living in another thread. */
  static view(shared: RadixTreeShared): RadixTreeStats {
    return new RadixTreeStats(shared.stats);
  }

  /** The tree's current buffers (see {@link RadixTreeShared} for which ones move). */
  get shared(): RadixTreeShared {
    return {
      stats: this.statsBuffer,
      nodes: this.nodeStore.shared,
      children: this.childTable.shared,
      edges: this.arena.shared,
    };
  }

  /** Tokens (= KV slots) the tree holds. */
  get totalTokens(): number {
    return this.counters.totalTokens;
  }

  /** Tokens in unlocked nodes: what {@link evict} can free. */
  get evictableTokens(): number {
    return this.counters.evictableTokens;
  }

  /** Tokens in locked nodes. */
  get protectedTokens(): number {
    return this.counters.protectedTokens;
  }

  /** Live nodes other than the root. */
  get nodeCount(): number {
    return this.counters.nodeCount;
  }

  /** Bytes of every buffer the tree holds now (nodes, child table, arena, eviction heap, stats). */
  get byteLength(): number {
    return this.nodeStore.shared.byteLength + this.childTable.shared.byteLength + this.arena.shared.byteLength +
      this.evictionHeap.byteLength + this.statsBuffer.byteLength;
  }

  /**
   * Finds the longest cached prefix of `tokens`. When it ends inside an edge, the edge is split so
   * that the returned node ends exactly there. Marks every node on the path as just used.
   */
  matchPrefix(tokens: ArrayLike<number>): PrefixMatch {
    if (!this.enabled || tokens.length === 0) return { length: 0, slots: NO_SLOTS, node: ROOT };
    const { node, length } = this.descend(tokens, true);
    return { length, slots: this.pathSlots(node, length), node };
  }

  /**
   * How many leading `tokens` are cached, without changing the tree: no edge is split and no
   * access time moves (for ordering a waiting queue, which must not make every queued prompt look
   * recently used or fragment edges for requests that may never be admitted).
   */
  peekPrefixLength(tokens: ArrayLike<number>): number {
    return this.enabled ? this.descend(tokens, false).length : 0;
  }

  /**
   * Walks `tokens` down from the root. With `mutate`, a match ending inside an edge splits it there
   * and every node reached is touched; without, the walk only measures.
   */
  private descend(tokens: ArrayLike<number>, mutate: boolean): { node: number; length: number } {
    const now = mutate ? ++this.clock : 0;
    let node = ROOT;
    let length = 0;
    while (length < tokens.length) {
      const child = this.childTable.get(node, tokens[length]!);
      if (child === NO_CHILD) break;
      const common = this.commonLength(child, tokens, length);
      length += common;
      if (common < this.nodeStore.edgeLength[child]!) {
        // A split node's only child diverges from `tokens` here: nothing more to match.
        if (mutate) {
          node = this.split(child, common);
          this.touch(node, now);
        }
        break;
      }
      if (mutate) this.touch(child, now);
      node = child;
    }
    return { node, length };
  }

  /**
   * Caches `tokens` with their KV `slots` (same length). Returns `n`: the tree took ownership of
   * `slots[n..]` and of none of `slots[0..n)`, so the caller frees those of `slots[0..n)` it owns
   * (all but the prefix slots it got from {@link matchPrefix}). Enabled, `n` is how many leading
   * tokens were already cached (the tree keeps its own slots for them); disabled, the tree stores
   * nothing and `n` is `tokens.length`, so the caller's code path frees every slot it owns.
   */
  insert(tokens: ArrayLike<number>, slots: ArrayLike<number>): number {
    if (tokens.length !== slots.length) {
      throw new KvCacheError(`insert: slots.length ${slots.length} differs from tokens.length ${tokens.length}`);
    }
    if (!this.enabled) return tokens.length;
    const now = ++this.clock;
    let node = ROOT;
    let matched = 0;
    while (matched < tokens.length) {
      const child = this.childTable.get(node, tokens[matched]!);
      if (child === NO_CHILD) {
        this.addLeaf(node, tokens, slots, matched, now);
        return matched;
      }
      const common = this.commonLength(child, tokens, matched);
      const reached = common < this.nodeStore.edgeLength[child]! ? this.split(child, common) : child;
      this.touch(reached, now);
      matched += common;
      node = reached;
    }
    return matched;
  }

  /** Adds one lock on `node` and each ancestor: none of them can be evicted until unlocked. */
  lock(node: number): void {
    this.assertLive(node, 'lock');
    const store = this.nodeStore;
    let newlyProtected = 0;
    for (let at = node; at !== ROOT; at = store.parent[at]!) {
      if (store.lockRef[at] === 0) {
        newlyProtected += store.edgeLength[at]!;
        this.evictionHeap.remove(at);
      }
      store.lockRef[at]!++;
    }
    if (newlyProtected !== 0) this.counters.addProtectedTokens(newlyProtected);
  }

  /** Removes one lock taken by {@link lock} on the same node. */
  unlock(node: number): void {
    this.assertLive(node, 'unlock');
    const store = this.nodeStore;
    if (store.lockRef[node]! <= 0 && node !== ROOT) {
      throw new KvCacheError(`unlock: node ${node} has lockRef 0 (unlock without a matching lock)`);
    }
    let released = 0;
    for (let at = node; at !== ROOT; at = store.parent[at]!) {
      if (--store.lockRef[at]! === 0) {
        released += store.edgeLength[at]!;
        if (store.childCount[at] === 0) this.evictionHeap.push(at, store.lastAccess[at]!);
      }
    }
    if (released !== 0) this.counters.addProtectedTokens(-released);
  }

  /**
   * Evicts unlocked leaves, least recently used first, until at least `tokens` tokens are freed
   * or nothing evictable is left; a parent whose last child goes becomes a candidate itself. Each
   * evicted edge's slots go to `onFree` (a copy, called once per node). Returns the tokens freed.
   */
  evict(tokens: number, onFree: (slots: Int32Array) => void): number {
    if (!(tokens >= 0)) throw new KvCacheError(`evict: tokens must be >= 0, got ${tokens}`);
    let freed = 0;
    while (freed < tokens && this.evictionHeap.size > 0) {
      freed += this.removeLeaf(this.evictionHeap.popOldest(), onFree);
    }
    return freed;
  }

  /**
   * Empties the cache, handing every slot it holds to `onFree` in one call (none when empty).
   * Refused while any node is locked: a running request still reads those slots.
   */
  reset(onFree: (slots: Int32Array) => void): void {
    const locked = this.protectedTokens;
    if (locked !== 0) throw new KvCacheError(`reset: ${locked} tokens are locked by running requests`);
    const slots = new Int32Array(this.totalTokens);
    let filled = 0;
    const store = this.nodeStore;
    for (let node = ROOT + 1; node < store.capacity; node++) {
      if (!store.isLive(node)) continue;
      const offset = store.edgeOffset[node]!;
      slots.set(this.arena.slots.subarray(offset, offset + store.edgeLength[node]!), filled);
      filled += store.edgeLength[node]!;
    }
    store.releaseAllButRoot();
    this.childTable.clear();
    this.evictionHeap.clear();
    this.arena = new EdgeArena(this.minArenaCapacity);
    this.counters.clear();
    if (filled !== 0) onFree(slots);
  }

  /**
   * Every live node but the root, each after its parent, as copies. O(nodes); meant for tests and
   * invariant checks. Do not change the tree while iterating.
   */
  *nodes(): IterableIterator<RadixNodeInfo> {
    const store = this.nodeStore;
    const reported = new Uint8Array(store.capacity);
    reported[ROOT] = 1;
    const chain: number[] = [];
    for (let node = ROOT + 1; node < store.capacity; node++) {
      if (!store.isLive(node)) continue;
      for (let at = node; reported[at] === 0; at = store.parent[at]!) chain.push(at);
      while (chain.length > 0) {
        const at = chain.pop()!;
        reported[at] = 1;
        yield this.describe(at);
      }
    }
  }

  /**
   * Checks the tree's internal bookkeeping (child index, child counts, lock monotonicity, eviction
   * candidates, counters, arena ranges) and throws a {@link KvCacheError} naming the first
   * inconsistency. O(nodes); for tests and debug builds.
   */
  checkStructure(): void {
    const store = this.nodeStore;
    const fail = (what: string): never => {
      throw new KvCacheError(`radix tree: ${what}`);
    };
    if (store.lockRef[ROOT] !== 0 || store.edgeLength[ROOT] !== 0) fail('root has a lock or an edge');
    const childCounts = new Int32Array(store.capacity);
    let total = 0;
    let locked = 0;
    let live = 0;
    for (let node = ROOT + 1; node < store.capacity; node++) {
      if (!store.isLive(node)) {
        if (this.evictionHeap.has(node)) fail(`freed node ${node} is an eviction candidate`);
        continue;
      }
      live++;
      const parent = store.parent[node]!;
      const offset = store.edgeOffset[node]!;
      const length = store.edgeLength[node]!;
      const lockRef = store.lockRef[node]!;
      if (!store.isLive(parent)) fail(`node ${node} has parent ${parent}, which is not live`);
      if (length <= 0 || offset < 0 || offset + length > this.arena.used) {
        fail(`node ${node} has edge [${offset}, ${offset + length}) outside the arena's ${this.arena.used} used`);
      }
      if (this.childTable.get(parent, this.arena.tokens[offset]!) !== node) {
        fail(`child index does not map (parent ${parent}, token ${this.arena.tokens[offset]}) to node ${node}`);
      }
      if (lockRef < 0) fail(`node ${node} has lockRef ${lockRef}`);
      if (parent !== ROOT && lockRef > store.lockRef[parent]!) {
        fail(`node ${node} has lockRef ${lockRef} above its parent ${parent}'s ${store.lockRef[parent]}`);
      }
      childCounts[parent]!++;
      total += length;
      if (lockRef > 0) locked += length;
    }
    for (let node = ROOT; node < store.capacity; node++) {
      if (!store.isLive(node)) continue;
      if (store.childCount[node] !== childCounts[node]) {
        fail(`node ${node} records ${store.childCount[node]} children but has ${childCounts[node]}`);
      }
      const candidate = node !== ROOT && childCounts[node] === 0 && store.lockRef[node] === 0;
      if (this.evictionHeap.has(node) !== candidate) {
        fail(`node ${node} is ${candidate ? 'an unlocked leaf missing from' : 'wrongly in'} the eviction heap`);
      }
    }
    if (this.childTable.size !== live) fail(`child index has ${this.childTable.size} entries for ${live} nodes`);
    if (this.nodeCount !== live) fail(`nodeCount is ${this.nodeCount} but ${live} nodes are live`);
    if (this.totalTokens !== total) fail(`totalTokens is ${this.totalTokens} but edges hold ${total}`);
    if (this.protectedTokens !== locked) {
      fail(`protectedTokens is ${this.protectedTokens} but locked edges hold ${locked}`);
    }
  }

  private describe(node: number): RadixNodeInfo {
    const store = this.nodeStore;
    const offset = store.edgeOffset[node]!;
    const end = offset + store.edgeLength[node]!;
    return {
      node,
      parent: store.parent[node]!,
      tokens: this.arena.tokens.slice(offset, end),
      slots: this.arena.slots.slice(offset, end),
      lockRef: store.lockRef[node]!,
      lastAccess: store.lastAccess[node]!,
    };
  }

  private assertLive(node: number, operation: string): void {
    if (!this.nodeStore.isLive(node)) throw new KvCacheError(`${operation}: node ${node} is not a live tree node`);
  }

  /** Length of the common run of `child`'s edge and `tokens[from..]`. */
  private commonLength(child: number, tokens: ArrayLike<number>, from: number): number {
    const edgeTokens = this.arena.tokens;
    const offset = this.nodeStore.edgeOffset[child]!;
    const limit = Math.min(this.nodeStore.edgeLength[child]!, tokens.length - from);
    let common = 0;
    while (common < limit && edgeTokens[offset + common] === tokens[from + common]) common++;
    return common;
  }

  /** Slots along the path root → `node`, which spans `length` tokens. */
  private pathSlots(node: number, length: number): Int32Array {
    const slots = new Int32Array(length);
    const store = this.nodeStore;
    const arenaSlots = this.arena.slots;
    let end = length;
    for (let at = node; at !== ROOT; at = store.parent[at]!) {
      const offset = store.edgeOffset[at]!;
      const edgeLength = store.edgeLength[at]!;
      end -= edgeLength;
      slots.set(arenaSlots.subarray(offset, offset + edgeLength), end);
    }
    return slots;
  }

  private touch(node: number, now: number): void {
    this.nodeStore.lastAccess[node] = now;
    this.evictionHeap.update(node, now);
  }

  /**
   * Splits `child`'s edge after `at` tokens: a new node takes the first part and becomes `child`'s
   * parent. `child` keeps its id (locks taken on it stay valid); the new node copies its lock count
   * and last access. The arena range is shared out as is.
   */
  private split(child: number, at: number): number {
    const upper = this.nodeStore.allocate();
    // Read the arrays after allocate(): growing the store replaces them.
    const store = this.nodeStore;
    const parent = store.parent[child]!;
    const offset = store.edgeOffset[child]!;
    store.parent[upper] = parent;
    store.edgeOffset[upper] = offset;
    store.edgeLength[upper] = at;
    store.childCount[upper] = 1;
    store.lockRef[upper] = store.lockRef[child]!;
    store.lastAccess[upper] = store.lastAccess[child]!;
    store.parent[child] = upper;
    store.edgeOffset[child] = offset + at;
    store.edgeLength[child]! -= at;
    this.childTable.set(parent, this.arena.tokens[offset]!, upper);
    this.childTable.set(upper, this.arena.tokens[offset + at]!, child);
    this.counters.addNodeCount(1);
    return upper;
  }

  private addLeaf(
    parent: number, tokens: ArrayLike<number>, slots: ArrayLike<number>, from: number, now: number,
  ): void {
    const length = tokens.length - from;
    this.reserveArena(length);
    const offset = this.arena.append(tokens, slots, from, tokens.length);
    const leaf = this.nodeStore.allocate();
    const store = this.nodeStore;
    store.parent[leaf] = parent;
    store.edgeOffset[leaf] = offset;
    store.edgeLength[leaf] = length;
    store.lastAccess[leaf] = now;
    // The parent stops being a leaf, so it stops being an eviction candidate.
    if (store.childCount[parent]!++ === 0) this.evictionHeap.remove(parent);
    this.childTable.set(parent, tokens[from]!, leaf);
    this.evictionHeap.push(leaf, now);
    this.counters.addTotalTokens(length);
    this.counters.addNodeCount(1);
  }

  /** Removes an evictable leaf, hands its slots to `onFree`, returns its token count. */
  private removeLeaf(leaf: number, onFree: (slots: Int32Array) => void): number {
    const store = this.nodeStore;
    const parent = store.parent[leaf]!;
    const offset = store.edgeOffset[leaf]!;
    const length = store.edgeLength[leaf]!;
    const slots = this.arena.slots.slice(offset, offset + length);
    this.childTable.delete(parent, this.arena.tokens[offset]!);
    store.release(leaf);
    this.counters.addTotalTokens(-length);
    this.counters.addNodeCount(-1);
    if (--store.childCount[parent]! === 0 && parent !== ROOT && store.lockRef[parent] === 0) {
      this.evictionHeap.push(parent, store.lastAccess[parent]!);
    }
    // Last, so the callback sees a consistent tree.
    onFree(slots);
    return length;
  }

  /**
   * Makes room for `length` more arena positions. When the arena is full, the live edges are copied
   * into a fresh arena of 1.5 times what they need (growing or shrinking it), which drops the
   * ranges of evicted edges. The copy costs O(live tokens) but comes only after at least a third
   * of an arena of appends (amortised O(1) per token), and memory tracks the live cache (8 to 12
   * bytes per token) instead of growing under churn.
   */
  private reserveArena(length: number): void {
    if (this.arena.hasRoom(length)) return;
    const needed = this.totalTokens + length;
    const capacity = Math.max(this.minArenaCapacity, Math.ceil(needed * ARENA_SLACK));
    const next = new EdgeArena(capacity);
    const store = this.nodeStore;
    for (let node = ROOT + 1; node < store.capacity; node++) {
      if (!store.isLive(node)) continue;
      store.edgeOffset[node] = next.copyFrom(this.arena, store.edgeOffset[node]!, store.edgeLength[node]!);
    }
    this.arena = next;
  }
}
