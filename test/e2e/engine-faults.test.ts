import t from 'tap';
import { fixtureEngine, idle, tokenIds } from '../helpers/engine.js';
import { EngineStateError } from '../../src/engine/errors.js';

t.test('breaking out of a stream or aborting its signal frees its KV slots', async (t) => {
  const engine = await fixtureEngine('qwen2', { radixCache: false });
  t.teardown(() => engine.close());
  let chunks = 0;
  for await (const _ of engine.stream({ inputIds: tokenIds(1, 10), maxTokens: 200, temperature: 0, ignoreEos: true })) {
    if (++chunks === 3) break;
  }
  await idle(engine);
  t.equal(engine.stats().slotsUsed, 0, 'no slots held after break (radix cache off)');

  // Other long requests keep every step busy, so the abort lands long before maxTokens.
  const others = Array.from({ length: 16 }, (_, i) => engine.generate({ inputIds: tokenIds(50 + i, 10), maxTokens: 240, temperature: 0, ignoreEos: true }));
  const ac = new AbortController();
  const seen: string[] = [];
  let generated = 0;
  for await (const c of engine.stream({ inputIds: tokenIds(2, 10), maxTokens: 240, temperature: 0, ignoreEos: true, signal: ac.signal })) {
    seen.push(c.finishReason ?? 'chunk');
    generated += c.tokenIds.length;
    if (seen.length === 2) ac.abort();
  }
  t.equal(seen.at(-1), 'abort', 'the stream ends with finishReason abort');
  t.ok(generated < 240, `generation stopped early (${generated} tokens)`);
  await Promise.all(others);
  await idle(engine);
  t.equal(engine.stats().slotsUsed, 0, 'no slots held after abort');
  const ok = await engine.generate({ inputIds: tokenIds(3, 5), maxTokens: 3, temperature: 0 });
  t.ok(ok.tokenIds.length > 0, 'the engine still serves');
});

t.test('a KV pool smaller than the demand still completes every request (eviction + retraction)', async (t) => {
  const big = await fixtureEngine('qwen2');
  const small = await fixtureEngine('qwen2', { kvCacheTokens: 96, maxRunningRequests: 8, chunkedPrefillSize: 32 });
  t.teardown(() => Promise.all([big.close(), small.close()]));
  // 24 requests of 60 tokens each (1,440 slots' worth) through a pool of 96 slots.
  const prompts = Array.from({ length: 24 }, (_, i) => tokenIds(100 + i, 20));
  const req = (p: number[]) => ({ inputIds: p, maxTokens: 40, temperature: 0, ignoreEos: true });
  const expected = await Promise.all(prompts.map((p) => big.generate(req(p))));
  const got = await Promise.all(prompts.map((p) => small.generate(req(p))));
  const mismatches = got.filter((r, i) => JSON.stringify(r.tokenIds) !== JSON.stringify(expected[i]!.tokenIds)).length;
  t.equal(mismatches, 0, `${got.length} requests, ${mismatches} differ from a large pool's tokens`);
  t.ok(got.every((r) => r.finishReason === 'length'), 'every request finished');
  t.ok(small.stats().retractionsTotal > 0, `requests were retracted (${small.stats().retractionsTotal}) and still completed`);
  await idle(small);
  const s = small.stats();
  t.equal(s.slotsUsed, s.slotsEvictable, 'every used slot belongs to the (unlocked) cache');
});

t.test('a shard that throws fails only the requests of that step; the engine stays healthy', async (t) => {
  const FAULT = 499;
  const engine = await fixtureEngine('qwen2', { tp: 2, faultInjection: { failOnTokenId: FAULT } });
  t.teardown(() => engine.close());
  const bad = engine.generate({ inputIds: [FAULT, 5, 6], maxTokens: 5, temperature: 0 });
  await t.rejects(bad, { name: 'EngineError', message: /injected fault: token 499/ });
  await idle(engine);
  t.equal(engine.stats().healthy, true);
  const good = await engine.generate({ inputIds: [7, 8, 9], maxTokens: 5, temperature: 0, ignoreEos: true });
  t.equal(good.tokenIds.length, 5, 'later requests succeed');
  t.equal(engine.stats().slotsUsed, engine.stats().slotsEvictable, 'the failed request left no locked slots');
});

t.test('a shard worker that dies marks the engine failed and rejects requests instead of hanging', async (t) => {
  const CRASH = 498;
  const engine = await fixtureEngine('qwen2', { tp: 2, faultInjection: { exitOnTokenId: CRASH } });
  t.teardown(() => engine.close());
  await t.rejects(engine.generate({ inputIds: [CRASH, 1, 2], maxTokens: 5 }), { name: 'EngineError' });
  t.equal(engine.stats().healthy, false);
  t.match(engine.stats().error, /shard \d exited/);
  await t.rejects(engine.generate({ inputIds: [1, 2], maxTokens: 1 }), { name: 'EngineStateError', state: 'failed', message: /engine failed/ });
});

t.test('a request longer than the KV pool is refused; one that fills it ends with length instead of hanging', async (t) => {
  const engine = await fixtureEngine('qwen2', { kvCacheTokens: 40, maxRunningRequests: 4 });
  t.teardown(() => engine.close());
  await t.rejects(engine.generate({ inputIds: tokenIds(11, 45) }), { name: 'RequestError', field: 'inputIds', message: /at most 39 fit/ });
  const r = await engine.generate({ inputIds: tokenIds(12, 30), maxTokens: 100, temperature: 0, ignoreEos: true });
  t.equal(r.finishReason, 'length');
  t.equal(r.usage.completionTokens, 10, 'output capped where the pool is full');
});

t.test('bad requests and options are refused with an error naming the field', async (t) => {
  const engine = await fixtureEngine('qwen2', { contextLength: 64 });
  t.teardown(() => engine.close());
  const cases: [object, string][] = [
    [{}, 'prompt'],
    [{ prompt: 'a', inputIds: [1] }, 'prompt'],
    [{ prompt: 42 }, 'prompt'],
    [{ inputIds: [1, -2] }, 'inputIds[1]'],
    [{ inputIds: [1, 512] }, 'inputIds[1]'],
    [{ inputIds: tokenIds(5, 64) }, 'inputIds'],
    [{ prompt: 'a', maxTokens: -1 }, 'maxTokens'],
    [{ prompt: 'a', temperature: -0.5 }, 'temperature'],
    [{ prompt: 'a', topP: 0 }, 'topP'],
    [{ prompt: 'a', topK: 0 }, 'topK'],
    [{ prompt: 'a', minP: 2 }, 'minP'],
    [{ prompt: 'a', frequencyPenalty: 3 }, 'frequencyPenalty'],
    [{ prompt: 'a', repetitionPenalty: 0 }, 'repetitionPenalty'],
    [{ prompt: 'a', logitBias: { 9999: 1 } }, 'logitBias[9999]'],
    [{ prompt: 'a', stop: [''] }, 'stop'],
    [{ prompt: 'a', topLogprobs: 50 }, 'topLogprobs'],
    [{ prompt: 'a', seed: 1.5 }, 'seed'],
    [{ prompt: 'a', promptLogprobsFrom: 9 }, 'promptLogprobsFrom'],
    [{ prompt: 'a', maxToken: 3 }, 'maxToken'],
  ];
  for (const [req, field] of cases) {
    await t.rejects(engine.generate(req), { name: 'RequestError', field }, `${JSON.stringify(req).slice(0, 60)} → ${field}`);
  }
  t.equal(engine.stats().slotsUsed, 0, 'refused requests touched no KV');
  const ok = await engine.generate({ prompt: 'a', maxTokens: 2 });
  t.ok(ok.usage.promptTokens > 0, 'the engine still serves');
  await t.rejects(fixtureEngine('qwen2', { tp: 3 }), { name: 'RequestError', field: 'tp' });
  await t.rejects(fixtureEngine('qwen2', { dtype: 'int3' as never }), { name: 'RequestError', field: 'dtype' });
  await t.rejects(fixtureEngine('qwen2', { kvCacheTokens: 0 }), { name: 'RequestError', field: 'kvCacheTokens' });
  await t.rejects(fixtureEngine('qwen2', { model: '/nope' }), { name: 'RequestError', field: 'model' });
  const inFlight = (async () => {
    for await (const _ of engine.stream({ inputIds: tokenIds(9, 8), maxTokens: 50, ignoreEos: true })) await engine.close();
  })();
  await t.rejects(inFlight, new EngineStateError('closed', 'engine closed'), 'close() rejects requests in flight');
  await t.rejects(engine.generate({ prompt: 'a' }), new EngineStateError('closed', 'engine is closed'));
});
