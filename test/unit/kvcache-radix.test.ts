import t from 'tap';
import { KvCacheError, RadixTree, SlotAllocator, checkKvInvariants } from '../../src/kvcache/index.js';

/** `n` consecutive slot ids starting at `first`. */
function slotRange(first: number, n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => first + i);
}

/** Edges of the tree as "tokens→slots" strings, parents first. */
function edges(tree: RadixTree): string[] {
  return Array.from(tree.nodes(), (n) => `${n.tokens.join(',')}→${n.slots.join(',')}`).sort();
}

/** Evicts and records each freed edge's slots. */
function evictLog(tree: RadixTree, tokens: number): { freed: number; batches: number[][] } {
  const batches: number[][] = [];
  const freed = tree.evict(tokens, (slots) => batches.push(Array.from(slots)));
  return { freed, batches };
}

t.test('matchPrefix splits an edge when the match ends inside it', (t) => {
  const tree = new RadixTree();
  t.equal(tree.insert([1, 2, 3, 4, 5], slotRange(10, 5)), 0);
  t.equal(tree.nodeCount, 1);
  const m = tree.matchPrefix([1, 2, 3, 9]);
  t.equal(m.length, 3);
  t.same(Array.from(m.slots), [10, 11, 12]);
  t.equal(tree.nodeCount, 2, 'the edge was split in two');
  t.same(edges(tree), ['1,2,3→10,11,12', '4,5→13,14']);
  const upper = Array.from(tree.nodes()).find((n) => n.tokens.length === 3)!;
  t.equal(m.node, upper.node, 'the returned node ends exactly at the match');
  const full = tree.matchPrefix([1, 2, 3, 4, 5, 6]);
  t.equal(full.length, 5);
  t.same(Array.from(full.slots), [10, 11, 12, 13, 14]);
  t.equal(tree.totalTokens, 5, 'splitting adds no tokens');
  const none = tree.matchPrefix([7, 1]);
  t.same({ length: none.length, node: none.node, slots: none.slots.length }, { length: 0, node: tree.root, slots: 0 });
  t.equal(tree.matchPrefix([]).length, 0);
  tree.checkStructure();
  t.end();
});

t.test('insert returns how much was already cached and keeps its own slots there', (t) => {
  const tree = new RadixTree();
  t.equal(tree.insert([1, 2, 3], slotRange(10, 3)), 0);
  t.equal(tree.insert([1, 2, 3, 4, 5], slotRange(20, 5)), 3, 'slots 20..22 are duplicates');
  t.same(Array.from(tree.matchPrefix([1, 2, 3, 4, 5]).slots), [10, 11, 12, 23, 24]);
  t.equal(tree.insert([1, 2], slotRange(30, 2)), 2, 'insert ending inside an edge is all duplicate');
  t.equal(tree.insert([1, 2, 7], slotRange(40, 3)), 2, 'diverging inside an edge splits it');
  t.same(edges(tree), ['1,2→10,11', '3→12', '4,5→23,24', '7→42']);
  t.equal(tree.totalTokens, 6);
  t.equal(tree.insert([], []), 0);
  t.throws(() => tree.insert([1, 2], [1]), new KvCacheError('insert: slots.length 1 differs from tokens.length 2'));
  tree.checkStructure();
  t.end();
});

t.test('locked nodes are never evicted; unlocking makes them evictable again', (t) => {
  const tree = new RadixTree();
  tree.insert([1, 2, 3], slotRange(0, 3));
  tree.insert([4, 5], slotRange(3, 2));
  const m = tree.matchPrefix([1, 2, 3]);
  tree.lock(m.node);
  t.equal(tree.protectedTokens, 3);
  t.equal(tree.evictableTokens, 2);
  t.same(evictLog(tree, 100), { freed: 2, batches: [[3, 4]] }, 'only the unlocked leaf goes');
  t.equal(tree.matchPrefix([1, 2, 3]).length, 3);
  t.same(evictLog(tree, 100), { freed: 0, batches: [] });
  tree.unlock(m.node);
  t.equal(tree.evictableTokens, 3);
  t.same(evictLog(tree, 1), { freed: 3, batches: [[0, 1, 2]] }, 'frees at least what was asked, whole edges');
  t.throws(() => tree.unlock(m.node), new KvCacheError(`unlock: node ${m.node} is not a live tree node`));
  t.throws(() => tree.lock(12345), new KvCacheError('lock: node 12345 is not a live tree node'));
  t.throws(() => tree.evict(-1, () => {}), KvCacheError);
  tree.checkStructure();
  t.end();
});

t.test('unlock below zero is refused', (t) => {
  const tree = new RadixTree();
  tree.insert([1, 2], slotRange(0, 2));
  const { node } = tree.matchPrefix([1, 2]);
  tree.lock(node);
  tree.unlock(node);
  t.throws(
    () => tree.unlock(node),
    new KvCacheError(`unlock: node ${node} has lockRef 0 (unlock without a matching lock)`),
  );
  tree.lock(tree.root);
  tree.unlock(tree.root);
  t.equal(tree.protectedTokens, 0, 'locking the root is a no-op');
  t.end();
});

t.test('a split above a locked node keeps the lock on both halves', (t) => {
  const tree = new RadixTree();
  tree.insert([1, 2, 3, 4], slotRange(0, 4));
  const deep = tree.matchPrefix([1, 2, 3, 4]).node;
  tree.lock(deep);
  const upper = tree.matchPrefix([1, 2, 9]).node;
  t.not(upper, deep);
  t.same(Array.from(tree.nodes(), (n) => n.lockRef), [1, 1]);
  t.equal(tree.protectedTokens, 4);
  t.same(evictLog(tree, 10), { freed: 0, batches: [] });
  tree.unlock(deep);
  t.equal(tree.evictableTokens, 4);
  t.equal(tree.evict(10, () => {}), 4);
  tree.checkStructure();
  t.end();
});

t.test('eviction goes least recently used first', (t) => {
  const tree = new RadixTree();
  tree.insert([1, 1], slotRange(0, 2));
  tree.insert([2, 2], slotRange(2, 2));
  tree.insert([3, 3], slotRange(4, 2));
  tree.matchPrefix([1, 1]); // now the most recent
  const lastAccess = Array.from(tree.nodes(), (n) => n.lastAccess);
  t.equal(Math.max(...lastAccess), lastAccess[0], 'the match stamped [1,1] with the newest time');
  t.same(evictLog(tree, 1).batches, [[2, 3]]);
  t.same(evictLog(tree, 1).batches, [[4, 5]]);
  t.same(evictLog(tree, 1).batches, [[0, 1]]);
  t.equal(tree.totalTokens, 0);
  t.end();
});

t.test('a parent becomes an eviction candidate once its children are gone', (t) => {
  const tree = new RadixTree();
  tree.insert([1, 2, 3, 4], slotRange(0, 4));
  tree.insert([1, 2, 5, 6], slotRange(10, 4)); // splits into [1,2] → {[3,4], [5,6]}
  tree.insert([9], slotRange(20, 1)); // newer than the [1,2] parent
  t.equal(tree.nodeCount, 4);
  t.same(evictLog(tree, 3), { freed: 4, batches: [[2, 3], [12, 13]] });
  t.same(evictLog(tree, 1).batches, [[0, 1]], 'the parent, now a leaf, is older than [9]');
  t.same(evictLog(tree, 1).batches, [[20]]);
  t.equal(tree.nodeCount, 0);
  tree.checkStructure();
  t.end();
});

t.test('a parent with a locked child is never a candidate', (t) => {
  const tree = new RadixTree();
  tree.insert([1, 2, 3], slotRange(0, 3));
  tree.insert([1, 2, 4], slotRange(3, 3));
  const locked = tree.matchPrefix([1, 2, 3]).node;
  tree.lock(locked);
  t.same(evictLog(tree, 100), { freed: 1, batches: [[5]] });
  t.equal(tree.totalTokens, 3);
  tree.unlock(locked);
  t.same(evictLog(tree, 100), { freed: 3, batches: [[2], [0, 1]] });
  t.end();
});

t.test('reset frees every slot at once, and only without locks', (t) => {
  const pool = new SlotAllocator(64);
  const tree = new RadixTree();
  for (const tokens of [[1, 2, 3], [1, 2, 4, 5], [6]]) {
    const slots = pool.alloc(tokens.length)!;
    pool.free(slots.subarray(0, tree.insert(tokens, slots)));
  }
  const { node } = tree.matchPrefix([6]);
  tree.lock(node);
  t.throws(() => tree.reset(() => {}), new KvCacheError('reset: 1 tokens are locked by running requests'));
  tree.unlock(node);
  let calls = 0;
  tree.reset((slots) => {
    calls++;
    pool.free(slots);
  });
  t.equal(calls, 1);
  t.equal(pool.freeCount, 64);
  t.same([tree.totalTokens, tree.nodeCount, tree.evictableTokens], [0, 0, 0]);
  t.equal(tree.matchPrefix([1, 2, 3]).length, 0);
  tree.reset(() => t.fail('an empty tree frees nothing'));
  t.equal(tree.insert([1, 2], slotRange(0, 2)), 0, 'usable after reset');
  checkKvInvariants(new SlotAllocator(0), new RadixTree(), []);
  t.end();
});

t.test('disabled mode: same calls, nothing cached', (t) => {
  const tree = new RadixTree({ enabled: false });
  t.equal(tree.enabled, false);
  t.equal(tree.insert([1, 2, 3], slotRange(0, 3)), 3, 'the tree takes no slot: the caller frees them all');
  const m = tree.matchPrefix([1, 2, 3]);
  t.same({ length: m.length, node: m.node, slots: m.slots.length }, { length: 0, node: tree.root, slots: 0 });
  tree.lock(m.node);
  tree.unlock(m.node);
  t.equal(tree.evict(10, () => t.fail('nothing to free')), 0);
  tree.reset(() => t.fail('nothing to free'));
  t.same([tree.totalTokens, tree.nodeCount, tree.protectedTokens], [0, 0, 0]);
  t.throws(() => tree.insert([1], []), KvCacheError);
  t.end();
});

t.test('stats are readable through the shared header', (t) => {
  const tree = new RadixTree();
  const view = RadixTree.view(tree.shared);
  tree.insert([1, 2, 3, 4], slotRange(0, 4));
  tree.insert([1, 2, 5], slotRange(4, 3));
  const { node } = tree.matchPrefix([1, 2, 5]);
  tree.lock(node);
  t.same(
    [view.totalTokens, view.protectedTokens, view.evictableTokens, view.nodeCount],
    [5, 3, 2, 3],
  );
  const statsBuffer = tree.shared.stats;
  const nodesBuffer = tree.shared.nodes;
  for (let i = 0; i < 2000; i++) tree.insert([7, i, i], slotRange(100 + 3 * i, 3));
  t.not(tree.shared.nodes, nodesBuffer, 'the node buffer moved when it grew');
  t.equal(tree.shared.stats, statsBuffer, 'the stats buffer never moves');
  t.equal(view.totalTokens, 5 + 1 + 2000 * 2, 'so an old view keeps reading live counts');
  t.end();
});

t.test('grows past its initial capacity with thousands of nodes', (t) => {
  const tree = new RadixTree({ initialNodes: 4, initialTokens: 16 });
  const initialBytes = tree.byteLength;
  const sequences: number[][] = [];
  let nextSlot = 0;
  for (let i = 0; i < 5000; i++) {
    // A base-7 spelling of i shares prefixes with its neighbours, so edges split as it grows.
    const tokens = Array.from(i.toString(7).padStart(6, '0'), Number);
    tokens.push(100 + (i % 13), 200 + i);
    sequences.push(tokens);
    const slots = slotRange(nextSlot, tokens.length);
    if (tree.insert(tokens, slots) === tokens.length) t.fail(`sequence ${i} was reported as cached already`);
    nextSlot += tokens.length;
  }
  t.ok(tree.nodeCount > 5000, `${tree.nodeCount} nodes`);
  t.ok(tree.byteLength > initialBytes * 100, 'buffers were reallocated larger');
  let wrong = 0;
  for (const tokens of sequences) if (tree.matchPrefix(tokens).length !== tokens.length) wrong++;
  t.equal(wrong, 0, 'every sequence still fully cached');
  tree.checkStructure();
  t.end();
});

t.test('memory is reused under churn', (t) => {
  const capacity = 4096;
  const pool = new SlotAllocator(capacity);
  const tree = new RadixTree({ initialNodes: 16, initialTokens: 64 });
  let seed = 12345;
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let bytesAfterWarmup = 0;
  let peakBytes = 0;
  const rounds = 40000;
  for (let round = 0; round < rounds; round++) {
    const tokens = Array.from({ length: 8 + random(120) }, () => random(4));
    const match = tree.matchPrefix(tokens);
    const missing = tokens.length - match.length;
    let own = pool.alloc(missing);
    if (own === null) {
      tree.evict(missing - pool.freeCount, (slots) => pool.free(slots));
      own = pool.alloc(missing)!;
    }
    const slots = new Int32Array(tokens.length);
    slots.set(match.slots);
    slots.set(own, match.length);
    const duplicate = tree.insert(tokens, slots);
    pool.free(slots.subarray(match.length, duplicate));
    if (round === rounds / 4) bytesAfterWarmup = tree.byteLength;
    peakBytes = Math.max(peakBytes, tree.byteLength);
  }
  checkKvInvariants(pool, tree, []);
  t.equal(pool.freeCount + tree.totalTokens, capacity);
  t.ok(peakBytes <= bytesAfterWarmup * 2, `peak ${peakBytes} B vs ${bytesAfterWarmup} B after warm-up`);
  t.ok(tree.byteLength < capacity * 200, `${tree.byteLength} B for a ${capacity}-slot pool`);
  t.end();
});
