import t from 'tap';
import { KvCacheError, RadixTree, SlotAllocator, checkKvInvariants } from '../../src/kvcache/index.js';

/** A pool of 8 with slots 0..2 in the tree (tokens 1,2,3) and 3..4 owned by a request. */
function setup(): { pool: SlotAllocator; tree: RadixTree; owned: Int32Array } {
  const pool = new SlotAllocator(8);
  const tree = new RadixTree();
  tree.insert([1, 2, 3], pool.alloc(3)!);
  return { pool, tree, owned: pool.alloc(2)! };
}

t.test('passes when every slot is free, owned or in the tree', (t) => {
  const { pool, tree, owned } = setup();
  checkKvInvariants(pool, tree, [owned]);
  t.pass();
  t.end();
});

t.test('names a leaked slot', (t) => {
  const { pool, tree } = setup();
  t.throws(
    () => checkKvInvariants(pool, tree, []),
    new KvCacheError('slot 3 is leaked: not free, not owned by a running request, not in the tree'),
  );
  t.end();
});

t.test('names a slot held twice', (t) => {
  const { pool, tree, owned } = setup();
  const treeNode = Array.from(tree.nodes())[0]!.node;
  t.throws(
    () => checkKvInvariants(pool, tree, [owned, [1]]),
    new KvCacheError(`slot 1 is both owned by running request #1 and held by tree node ${treeNode}`),
  );
  t.throws(
    () => checkKvInvariants(pool, tree, [owned, [7]]),
    new KvCacheError('slot 7 is both free and owned by running request #1'),
  );
  t.throws(() => checkKvInvariants(pool, tree, [owned, [8]]), new KvCacheError(
    'slot 8 (owned by running request #1) is out of range [0, 8)',
  ));
  t.end();
});

t.test('catches slots freed back to the pool while the tree still holds them', (t) => {
  const { pool, tree, owned } = setup();
  pool.free([0]);
  t.throws(() => checkKvInvariants(pool, tree, [owned]), /slot 0 is both free and held by tree node/);
  t.end();
});
