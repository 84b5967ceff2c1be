import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { KvCacheError, RadixTree, SlotAllocator, checkKvInvariants } from '../../src/kvcache/index.js';

/** What the scheduler does to the KV cache, as random operations. */
type Operation =
  | { readonly kind: 'start'; readonly prompt: readonly number[]; readonly output: readonly number[] }
  | { readonly kind: 'finish'; readonly pick: number }
  | { readonly kind: 'abort'; readonly pick: number }
  | { readonly kind: 'evict'; readonly tokens: number }
  | { readonly kind: 'reset' };

/** A running request: its locked prefix node and the slots it allocated itself. */
interface Running {
  readonly tokens: readonly number[];
  readonly node: number;
  readonly prefixSlots: Int32Array;
  readonly own: Int32Array;
}

// A 3-token alphabet and short sequences, so prefixes collide and edges split constantly.
const token = fc.integer({ min: 0, max: 2 });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 10, arbitrary: fc.record({
    kind: fc.constant('start' as const),
    prompt: fc.array(token, { minLength: 1, maxLength: 12 }),
    output: fc.array(token, { maxLength: 6 }),
  }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('evict' as const), tokens: fc.integer({ min: 0, max: 20 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
);

/** Key of the cached position `tokens[length - 1]`, i.e. of the prefix `tokens[0..length)`. */
function prefixKey(tokens: ArrayLike<number>, length: number): string {
  return Array.prototype.slice.call(tokens, 0, length).join(',');
}

/**
 * The reference cache: one entry per cached token position (keyed by the prefix it ends), with
 * the slot holding it. The tree must hold exactly these (prefix → slot) pairs at all times.
 */
class ReferenceCache {
  readonly slotOf = new Map<string, number>();
  private readonly keyOfSlot = new Map<number, string>();

  longestCachedPrefix(tokens: readonly number[]): number {
    let length = 0;
    while (length < tokens.length && this.slotOf.has(prefixKey(tokens, length + 1))) length++;
    return length;
  }

  add(tokens: readonly number[], slots: Int32Array, from: number): void {
    for (let i = from; i < tokens.length; i++) {
      const key = prefixKey(tokens, i + 1);
      this.slotOf.set(key, slots[i]!);
      this.keyOfSlot.set(slots[i]!, key);
    }
  }

  drop(slots: Int32Array): void {
    for (const slot of slots) {
      const key = this.keyOfSlot.get(slot);
      assert.ok(key !== undefined, `the tree freed slot ${slot}, which the reference never cached`);
      this.keyOfSlot.delete(slot);
      this.slotOf.delete(key);
    }
  }
}

/** Every (prefix → slot) pair the tree holds, read through its node walk. */
function treeContents(tree: RadixTree): Map<string, number> {
  const pathOf = new Map<number, number[]>([[tree.root, []]]);
  const contents = new Map<string, number>();
  for (const node of tree.nodes()) {
    const path = [...pathOf.get(node.parent)!];
    for (let i = 0; i < node.tokens.length; i++) {
      path.push(node.tokens[i]!);
      contents.set(path.join(','), node.slots[i]!);
    }
    pathOf.set(node.node, path);
  }
  return contents;
}

/** Runs one operation sequence against a pool of `capacity` slots, checking after every step. */
function simulate(capacity: number, operations: readonly Operation[], enabled: boolean): void {
  const pool = new SlotAllocator(capacity);
  const tree = new RadixTree({ enabled, initialNodes: 2, initialTokens: 8 });
  const reference = new ReferenceCache();
  const running: Running[] = [];
  const freeEvicted = (slots: Int32Array): void => {
    reference.drop(slots);
    pool.free(slots);
  };

  const finish = (request: Running): void => {
    const tokens = request.tokens;
    const slots = new Int32Array(tokens.length);
    slots.set(request.prefixSlots);
    slots.set(request.own, request.prefixSlots.length);
    const expected = enabled ? reference.longestCachedPrefix(tokens) : tokens.length;
    const duplicate = tree.insert(tokens, slots);
    assert.equal(duplicate, expected, 'insert reports the cached length the reference knows');
    assert.ok(duplicate >= request.prefixSlots.length, 'the locked prefix survived');
    pool.free(request.own.subarray(0, duplicate - request.prefixSlots.length));
    reference.add(tokens, slots, duplicate);
    tree.unlock(request.node);
  };

  const abort = (request: Running): void => {
    tree.unlock(request.node);
    pool.free(request.own);
  };

  const check = (): void => {
    checkKvInvariants(pool, tree, running.map((r) => r.own));
    assert.deepEqual(treeContents(tree), reference.slotOf, 'the tree holds exactly the reference pairs');
    const lockedPositions = new Set<string>();
    for (const r of running) {
      for (let i = 1; i <= r.prefixSlots.length; i++) lockedPositions.add(prefixKey(r.tokens, i));
    }
    assert.equal(tree.protectedTokens, lockedPositions.size, 'locked tokens are the running requests\' prefixes');
  };

  for (const op of operations) {
    switch (op.kind) {
      case 'start': {
        const tokens = [...op.prompt, ...op.output];
        const before = tree.nodes();
        const peeked = tree.peekPrefixLength(op.prompt);
        assert.deepEqual(tree.nodes(), before, 'peekPrefixLength changes no node, edge or access time');
        const match = tree.matchPrefix(op.prompt);
        assert.equal(match.length, enabled ? reference.longestCachedPrefix(op.prompt) : 0, 'match length');
        assert.equal(peeked, match.length, 'peekPrefixLength = matchPrefix length');
        for (let i = 0; i < match.length; i++) {
          assert.equal(match.slots[i], reference.slotOf.get(prefixKey(op.prompt, i + 1)), `matched slot ${i}`);
        }
        tree.lock(match.node);
        const needed = tokens.length - match.length;
        let own = pool.alloc(needed);
        if (own === null) {
          tree.evict(needed - pool.freeCount, freeEvicted);
          own = pool.alloc(needed);
        }
        if (own === null) {
          // Out of slots even after eviction: the scheduler would queue the request instead.
          tree.unlock(match.node);
          break;
        }
        running.push({ tokens, node: match.node, prefixSlots: match.slots, own });
        break;
      }
      case 'finish':
        if (running.length > 0) finish(running.splice(op.pick % running.length, 1)[0]!);
        break;
      case 'abort':
        if (running.length > 0) abort(running.splice(op.pick % running.length, 1)[0]!);
        break;
      case 'evict': {
        const evictable = tree.evictableTokens;
        const freed = tree.evict(op.tokens, freeEvicted);
        assert.ok(freed >= Math.min(op.tokens, evictable), `evict(${op.tokens}) freed ${freed} of ${evictable}`);
        break;
      }
      case 'reset':
        if (tree.protectedTokens > 0) {
          assert.throws(() => tree.reset(freeEvicted), KvCacheError);
        } else {
          tree.reset(freeEvicted);
          assert.equal(reference.slotOf.size, 0, 'reset freed every cached slot');
        }
        break;
    }
    check();
  }

  running.splice(0).forEach((request, i) => (i % 2 === 0 ? finish(request) : abort(request)));
  check();
  for (const node of tree.nodes()) assert.equal(node.lockRef, 0, `node ${node.node} still locked`);
  assert.equal(tree.protectedTokens, 0);
  assert.equal(pool.freeCount + tree.totalTokens, capacity, 'every slot is free or in the tree');
}

// Small pools so eviction and refused starts happen often; up to 60 operations per sequence.
const scenario = fc.tuple(
  fc.integer({ min: 8, max: 64 }),
  fc.array(operation, { minLength: 1, maxLength: 60, size: 'max' }),
);

t.test('scheduler-like operation sequences keep the KV bookkeeping exact', (t) => {
  const property = fc.property(scenario, ([capacity, operations]) => simulate(capacity, operations, true));
  fc.assert(property, { numRuns: 1000 });
  t.pass('1000 sequences');
  t.end();
});

t.test('the same sequences with the radix cache disabled', (t) => {
  const property = fc.property(scenario, ([capacity, operations]) => simulate(capacity, operations, false));
  fc.assert(property, { numRuns: 200 });
  t.pass('200 sequences');
  t.end();
});
