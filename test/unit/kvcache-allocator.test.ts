import t from 'tap';
import { KvCacheError, SlotAllocator } from '../../src/kvcache/index.js';

t.test('hands out lowest ids first and never a partial grant', (t) => {
  const pool = new SlotAllocator(8);
  t.same(Array.from(pool.alloc(3)!), [0, 1, 2]);
  t.equal(pool.freeCount, 5);
  t.equal(pool.alloc(6), null, 'not enough free: null');
  t.equal(pool.freeCount, 5, 'a refused alloc takes nothing');
  t.same(Array.from(pool.alloc(0)!), []);
  t.end();
});

t.test('free returns slots in the order they were freed', (t) => {
  const pool = new SlotAllocator(8);
  const slots = pool.alloc(5)!;
  pool.free([3, 1]);
  t.equal(pool.freeCount, 5);
  t.same(Array.from(pool.alloc(2)!), [3, 1]);
  pool.free(slots);
  t.equal(pool.freeCount, 8);
  t.end();
});

t.test('double free, duplicate and out-of-range slots are refused whole', (t) => {
  const pool = new SlotAllocator(4);
  pool.alloc(3);
  t.throws(() => pool.free([0, 3]), new KvCacheError('free: slot 3 is already free (double free)'));
  t.equal(pool.freeCount, 1, 'slot 0 was not freed by the rejected call');
  t.throws(() => pool.free([1, 1]), new KvCacheError('free: slot 1 is already free (double free)'));
  t.throws(() => pool.free([2, 4]), new KvCacheError('free: slot 4 is out of range [0, 4)'));
  t.throws(() => pool.free([-1]), KvCacheError);
  t.throws(() => pool.free([0.5]), KvCacheError);
  t.ok(!pool.isFree(0) && !pool.isFree(1) && !pool.isFree(2), 'rejected frees left states as they were');
  pool.free([0, 1, 2]);
  t.equal(pool.freeCount, 4);
  t.throws(() => pool.alloc(-1), KvCacheError);
  t.throws(() => new SlotAllocator(-3), KvCacheError);
  t.end();
});

t.test('another view over the shared buffer reads the same counts', (t) => {
  const pool = new SlotAllocator(16);
  const reader = SlotAllocator.fromShared(pool.shared);
  t.equal(reader.capacity, 16);
  pool.alloc(10);
  t.equal(reader.freeCount, 6);
  t.same(Array.from(reader.freeSlots()).sort((a, b) => a - b), [10, 11, 12, 13, 14, 15]);
  t.throws(() => SlotAllocator.fromShared(new SharedArrayBuffer(100)), KvCacheError);
  t.end();
});
