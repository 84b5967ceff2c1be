import t from 'tap';
import type { RequestEvent } from '../../src/actors/protocol.js';
import { checkKvInvariants } from '../../src/kvcache/index.js';
import type { Scheduler } from '../../src/scheduler/scheduler.js';
import type { ModelTokenizer } from '../../src/tokenizer/tokenizer.js';
import { fakeScheduler, fixtureTokenizer, greedyRequest, type FakeExecutor } from '../helpers/fake-executor.js';
import { tokenIds } from '../helpers/engine.js';

let tokenizer: ModelTokenizer;
t.before(async () => {
  tokenizer = await fixtureTokenizer();
});

interface Outcome {
  tokens: number[];
  reason?: string;
  error?: string;
  cached?: number;
}

/** Steps until idle; returns each request's output and finish. */
async function drain(s: Scheduler, out = new Map<string, Outcome>(), maxSteps = 10_000): Promise<Map<string, Outcome>> {
  for (let i = 0; s.hasWork(); i++) {
    if (i === maxSteps) throw new Error('scheduler did not become idle');
    collect(await s.step(), out);
  }
  return out;
}

function collect(events: RequestEvent[], out: Map<string, Outcome>): void {
  for (const e of events) {
    const o = out.get(e.id) ?? { tokens: [] };
    o.tokens.push(...e.tokenIds);
    if (e.finish) Object.assign(o, { reason: e.finish.reason, error: e.finish.error, cached: e.finish.usage.cachedTokens });
    out.set(e.id, o);
  }
}

/** The fake model's greedy continuation of `prompt`. */
function expected(ex: FakeExecutor, prompt: number[], n: number): number[] {
  const out: number[] = [];
  let last = prompt.at(-1)!;
  for (let i = 0; i < n; i++) out.push((last = ex.next(last)));
  return out;
}

/** After all requests end: no locks, every slot free or cached, every slot-table row free. */
function assertIdleKv(t: Tap.Test, s: Scheduler): void {
  const { allocator, tree, table } = s.kv;
  t.equal(tree.protectedTokens, 0, 'no locked tokens');
  t.equal(allocator.freeCount + tree.totalTokens, allocator.capacity, 'slots = free + cached');
  t.equal(table.freeRowCount, table.rows, 'every slot-table row is free');
  t.doesNotThrow(() => checkKvInvariants(allocator, tree, []), 'KV invariants hold');
}

t.test('greedy outputs are the fake model\'s, for requests alone and batched', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer);
  const prompts = [tokenIds(1, 10, 400), tokenIds(2, 30, 400), tokenIds(3, 3, 400)];
  prompts.forEach((p, i) => scheduler.submit(greedyRequest(`r${i}`, p, 6)));
  const out = await drain(scheduler);
  prompts.forEach((p, i) => {
    t.same(out.get(`r${i}`)!.tokens, expected(executor, p, 6), `r${i} tokens`);
    t.equal(out.get(`r${i}`)!.reason, 'length');
  });
  t.equal(executor.steps[0]!.length, 3, 'all three prefilled in the first step');
  assertIdleKv(t, scheduler);
});

t.test('chunked prefill: chunks of chunkedPrefillSize, logits only for the last token of the last chunk', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer, { chunkedPrefillSize: 8 });
  const prompt = tokenIds(4, 20, 400);
  scheduler.submit(greedyRequest('a', prompt, 2));
  const out = await drain(scheduler);
  const prefill = executor.steps.slice(0, 3).map((st) => st[0]!);
  t.same(prefill.map((s) => s.tokens.length), [8, 8, 4], 'chunk sizes');
  t.same(prefill.map((s) => s.cachedSlots.length), [0, 8, 16], 'each chunk attends to the chunks before it');
  t.same(prefill.map((s) => s.logitsFrom), [8, 8, 3], 'no logits until the last prompt token');
  t.same(prefill.map((s) => s.tokens), [prompt.slice(0, 8), prompt.slice(8, 16), prompt.slice(16)]);
  t.same(out.get('a')!.tokens, expected(executor, prompt, 2));
  assertIdleKv(t, scheduler);
});

t.test('admission by token budget: a step never exceeds chunkedPrefillSize prompt tokens', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer, { chunkedPrefillSize: 16 });
  for (let i = 0; i < 4; i++) scheduler.submit(greedyRequest(`r${i}`, tokenIds(10 + i, 12, 400), 3));
  await drain(scheduler);
  for (const [i, st] of executor.steps.entries()) {
    const prefill = st.filter((s) => s.tokens.length > 1 || s.cachedSlots.length === 0).reduce((n, s) => n + s.tokens.length, 0);
    t.ok(prefill <= 16 + st.length, `step ${i}: ${prefill} tokens within budget + decodes`);
  }
  t.same(executor.steps[0]!.map((s) => s.tokens.length), [12, 4], 'first step: one whole prompt, the next one chunked into the rest of the budget');
  assertIdleKv(t, scheduler);
});

t.test('a decode step sends each request one new slot; its earlier slots are read from its slot-table row', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer);
  scheduler.submit(greedyRequest('a', tokenIds(20, 40, 400), 5));
  const table = scheduler.kv.table;
  let written = 0;
  const write = table.write.bind(table);
  table.write = (row, from, slots) => {
    written += slots.length;
    write(row, from, slots);
  };
  collect(await scheduler.step(), new Map()); // prefill
  const afterPrefill = written;
  await drain(scheduler);
  const decodes = executor.steps.slice(1);
  t.equal(decodes.length, 4, 'four decode steps');
  t.equal(written - afterPrefill, decodes.length, 'one slot-table write per decode step, not the whole context');
  for (const [i, st] of decodes.entries()) {
    t.equal(st[0]!.cachedSlots.length, 40 + i, `decode ${i} attends to the whole context`);
    t.not(st[0]!.row, undefined, 'the step references a row');
  }
  t.same(decodes[1]![0]!.cachedSlots.slice(0, 41), [...decodes[0]![0]!.cachedSlots, ...decodes[0]![0]!.newSlots], 'a decode step\'s new slot is cached in the next');
});

t.test('out of slots: the request with the least output is retracted, re-queued, and still completes exactly', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer, { kvCacheTokens: 40, radixCache: false });
  const prompts = [tokenIds(30, 10, 400), tokenIds(31, 10, 400), tokenIds(32, 10, 400)];
  const out = new Map<string, Outcome>();
  scheduler.submit(greedyRequest('first', prompts[0]!, 8));
  collect(await scheduler.step(), out);
  scheduler.submit(greedyRequest('second', prompts[1]!, 8));
  scheduler.submit(greedyRequest('third', prompts[2]!, 8));
  await drain(scheduler, out);
  t.ok(scheduler.totals.retractions > 0, `retractions: ${scheduler.totals.retractions}`);
  prompts.forEach((p, i) => t.same(out.get(['first', 'second', 'third'][i]!)!.tokens, expected(executor, p, 8), `request ${i} output exact after retraction`));
  // The victim is 'third' (least output, latest arrival): re-prefilled from scratch, prompt + its output so far.
  const reprefill = executor.steps.flat().filter((s) => s.cachedSlots.length === 0 && s.tokens.length > 10);
  t.equal(reprefill.length, 1, 'one re-prefill');
  t.same(reprefill[0]!.tokens.slice(0, 10), prompts[2], 'of the request with the least output');
  t.same(reprefill[0]!.tokens.slice(10), expected(executor, prompts[2]!, reprefill[0]!.tokens.length - 10), 'its output so far is kept');
  assertIdleKv(t, scheduler);
});

t.test('lpm admits the request with the longest cached prefix first; fcfs keeps arrival order', async (t) => {
  const shared = tokenIds(40, 24, 400);
  for (const policy of ['lpm', 'fcfs'] as const) {
    const { scheduler, executor } = fakeScheduler(tokenizer, { schedulePolicy: policy, maxRunningRequests: 1 });
    scheduler.submit(greedyRequest('warm', [...shared, 5], 1));
    await drain(scheduler);
    scheduler.submit(greedyRequest('busy', tokenIds(41, 8, 400), 3));
    collect(await scheduler.step(), new Map());
    scheduler.submit(greedyRequest('cold', tokenIds(42, 24, 400), 1));
    scheduler.submit(greedyRequest('hot', [...shared, 7], 1));
    const nodesBefore = scheduler.kv.tree.nodeCount;
    collect(await scheduler.step(), new Map()); // busy decodes; both wait (one running at most)
    t.equal(scheduler.kv.tree.nodeCount, nodesBefore, `${policy}: ordering the queue splits no edge`);
    await drain(scheduler);
    // Steps: warm, busy's prefill and two decodes, then the first admission of the two.
    const admitted = executor.steps[4]![0]!;
    if (policy === 'lpm') t.same([admitted.tokens, admitted.cachedSlots.length], [[7], 24], 'lpm: hot admitted first, its prefix from the cache');
    else t.same([admitted.tokens.length, admitted.cachedSlots.length], [24, 0], 'fcfs: cold (earlier) admitted first');
    assertIdleKv(t, scheduler);
  }
});

t.test('a cached prefix is matched at admission and not recomputed', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer);
  const prefix = tokenIds(50, 30, 400);
  scheduler.submit(greedyRequest('a', [...prefix, 9], 2));
  await drain(scheduler);
  const before = executor.steps.length;
  scheduler.submit(greedyRequest('b', [...prefix, 11, 12], 2));
  const out = await drain(scheduler);
  const first = executor.steps[before]![0]!;
  t.equal(first.cachedSlots.length, 30, 'the prefix is attended from the cache');
  t.same(first.tokens, [11, 12], 'only the new tokens are computed');
  t.equal(out.get('b')!.cached, 30, 'usage reports the cached tokens');
  assertIdleKv(t, scheduler);
});

t.test('abort during a step: the request ends with "abort" after the step, its slots freed', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer);
  scheduler.submit(greedyRequest('a', tokenIds(60, 10, 400), 50));
  scheduler.submit(greedyRequest('b', tokenIds(61, 10, 400), 3));
  const out = new Map<string, Outcome>();
  collect(await scheduler.step(), out);
  executor.hold();
  const step = scheduler.step();
  await executor.started;
  t.equal(scheduler.abort('a'), null, 'a running request ends with the step, not at once');
  executor.release();
  collect(await step, out);
  t.equal(out.get('a')!.reason, 'abort', 'aborted');
  await drain(scheduler, out);
  t.same(out.get('b')!.tokens, expected(executor, tokenIds(61, 10, 400), 3), 'the other request is untouched');
  assertIdleKv(t, scheduler);
});

t.test('abort of a waiting request answers at once', async (t) => {
  const { scheduler } = fakeScheduler(tokenizer, { maxRunningRequests: 1 });
  scheduler.submit(greedyRequest('a', tokenIds(62, 10, 400), 3));
  scheduler.submit(greedyRequest('b', tokenIds(63, 10, 400), 3));
  collect(await scheduler.step(), new Map());
  const ev = scheduler.abort('b');
  t.equal(ev?.finish?.reason, 'abort');
  t.equal(scheduler.queuedCount, 0);
  await drain(scheduler);
  assertIdleKv(t, scheduler);
});

t.test('a failing step fails exactly its requests; the scheduler carries on', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer, { maxRunningRequests: 1 });
  executor.failOnToken = 399;
  scheduler.submit(greedyRequest('bad', [5, 6, 399], 3));
  scheduler.submit(greedyRequest('good', [5, 6, 7], 3));
  const out = await drain(scheduler);
  t.equal(out.get('bad')!.reason, 'abort');
  t.match(out.get('bad')!.error, /step failed: fake failure on token 399/);
  t.same(out.get('good')!.tokens, expected(executor, [5, 6, 7], 3), 'the next request runs normally');
  t.equal(out.get('good')!.error, undefined);
  assertIdleKv(t, scheduler);
});

t.test('eviction: cached prefixes are evicted (LRU) to admit new work; everything completes', async (t) => {
  const { scheduler, executor } = fakeScheduler(tokenizer, { kvCacheTokens: 64 });
  const prompts = Array.from({ length: 6 }, (_, i) => tokenIds(70 + i, 20, 400));
  const out = new Map<string, Outcome>();
  for (const [i, p] of prompts.entries()) {
    scheduler.submit(greedyRequest(`r${i}`, p, 4));
    await drain(scheduler, out);
    t.ok(scheduler.kv.tree.totalTokens <= 64, 'the cache never exceeds the pool');
  }
  prompts.forEach((p, i) => t.same(out.get(`r${i}`)!.tokens, expected(executor, p, 4), `r${i}`));
  t.ok(scheduler.kv.tree.totalTokens < 6 * 24, `older prefixes were evicted (cache holds ${scheduler.kv.tree.totalTokens})`);
  // The most recent request's prompt + computed output (all but its last token) is still cached.
  scheduler.submit(greedyRequest('again', [...prompts[5]!, ...expected(executor, prompts[5]!, 4)], 1));
  t.equal((await drain(scheduler)).get('again')!.cached, 23, 'most recent entry survived eviction');
  assertIdleKv(t, scheduler);
});

t.test('failAll ends running and waiting requests with the message and frees everything', async (t) => {
  const { scheduler } = fakeScheduler(tokenizer, { maxRunningRequests: 1 });
  scheduler.submit(greedyRequest('a', tokenIds(80, 10, 400), 20));
  scheduler.submit(greedyRequest('b', tokenIds(81, 10, 400), 20));
  collect(await scheduler.step(), new Map());
  const events = scheduler.failAll('engine closed');
  t.same(events.map((e) => [e.id, e.finish?.reason, e.finish?.error]).sort(), [['a', 'abort', 'engine closed'], ['b', 'abort', 'engine closed']]);
  t.notOk(scheduler.hasWork());
  assertIdleKv(t, scheduler);
});
