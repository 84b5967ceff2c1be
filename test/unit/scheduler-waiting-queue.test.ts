import t from 'tap';
import { WaitingQueue } from '../../src/scheduler/waiting-queue.js';

const req = (arrival: number) => ({ arrival });

t.test('admission order: push at the back, a retracted request back at the front', async (t) => {
  const q = new WaitingQueue<{ arrival: number }>();
  const [a, b, c] = [req(0), req(1), req(2)];
  q.push(a);
  q.push(b);
  t.equal(q.shift(), a);
  q.push(c);
  q.unshift(a);
  t.same([...q], [a, b, c]);
  t.equal(q.length, 3);
  t.throws(() => q.push(b), /already waiting/);
});

t.test('removal anywhere is O(1) and removed requests are never admitted', async (t) => {
  const q = new WaitingQueue<{ arrival: number }>();
  const all = Array.from({ length: 10 }, (_, i) => req(i));
  for (const r of all) q.push(r);
  t.ok(q.remove(all[0]!) && q.remove(all[5]!) && q.remove(all[9]!));
  t.notOk(q.remove(all[5]!), 'a second removal finds nothing');
  t.equal(q.length, 7);
  t.notOk(q.has(all[5]!));
  const out = [];
  for (let r = q.shift(); r; r = q.shift()) out.push(r.arrival);
  t.same(out, [1, 2, 3, 4, 6, 7, 8]);
  t.equal(q.peek(), undefined);
});

t.test('sortByArrival restores fcfs order after retractions; sort orders by any key', async (t) => {
  const q = new WaitingQueue<{ arrival: number }>();
  const [a, b, c, d] = [req(0), req(1), req(2), req(3)];
  q.push(a);
  q.push(c);
  q.unshift(d);
  q.unshift(b);
  q.sortByArrival();
  t.same([...q].map((r) => r.arrival), [0, 1, 2, 3]);
  q.sort((x, y) => y.arrival - x.arrival);
  t.same([...q].map((r) => r.arrival), [3, 2, 1, 0]);
  q.sortByArrival();
  t.same([...q].map((r) => r.arrival), [0, 1, 2, 3], 'a custom order counts as out of arrival order');
  q.clear();
  t.equal(q.length, 0);
});

t.test('200,000 requests: admission and removal stay linear', async (t) => {
  const q = new WaitingQueue<{ arrival: number }>();
  const all = Array.from({ length: 200_000 }, (_, i) => req(i));
  const start = performance.now();
  for (const r of all) q.push(r);
  for (let i = 0; i < all.length; i += 2) q.remove(all[i]!);
  let n = 0;
  while (q.shift()) n++;
  const ms = performance.now() - start;
  t.equal(n, 100_000);
  // A plain array (shift copies, indexOf + splice per removal) took minutes here.
  t.ok(ms < 2000, `${ms.toFixed(0)} ms`);
});
