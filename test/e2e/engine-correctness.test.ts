import t from 'tap';
import { fixtureEngine, tokenIds } from '../helpers/engine.js';
import { loadReference, rowRelError } from '../helpers/fixtures.js';
import { webgpuRunnable } from '../helpers/webgpu.js';

const ref = loadReference('qwen2');

// The engine-level checks run on every device this machine has (CI: both; lavapipe gives WebGPU).
for (const device of webgpuRunnable() ? (['cpu', 'webgpu'] as const) : (['cpu'] as const)) {
const d = { device, ...(device === 'webgpu' ? { dtype: 'fp32' as const } : {}) };

t.test(`${device}: engine (tp=1 and tp=2) reproduces transformers greedy tokens and prompt logprobs`, async (t) => {
  const e1 = await fixtureEngine('qwen2', d);
  const e2 = await fixtureEngine('qwen2', { ...d, tp: 2 });
  t.teardown(() => Promise.all([e1.close(), e2.close()]));

  for (const [i, prompt] of ref.prompts.entries()) {
    for (const [name, engine] of [['tp=1', e1], ['tp=2', e2]] as const) {
      const r = await engine.generate({ inputIds: prompt, maxTokens: 4, temperature: 0, ignoreEos: true });
      t.same(r.tokenIds, ref.greedy[i]!.tokens, `${name} prompt ${i} greedy tokens equal transformers'`);
      t.equal(r.finishReason, 'length');
    }
  }

  for (const [i, prompt] of ref.prompts.entries()) {
    const r = await e1.generate({ inputIds: prompt, maxTokens: 0, promptLogprobsFrom: 0 });
    t.equal(r.tokenIds.length, 0, 'maxTokens 0 generates nothing');
    const got = r.promptLogprobs!.map((p) => p.logprob);
    const want = ref.prompt_logprobs[i]!;
    t.equal(got.length, want.length, `prompt ${i}: one logprob per position`);
    t.equal(got[0], null, 'position 0 has no logprob');
    const err = rowRelError(got.slice(1) as number[], want.slice(1) as number[]);
    t.ok(err <= 1e-4, `prompt ${i} prompt logprobs within 1e-4 (got ${err.toExponential(2)})`);
  }
});

t.test(`${device}: 32 concurrent greedy requests give exactly the tokens each gives alone`, async (t) => {
  const engine = await fixtureEngine('qwen2', { ...d, maxRunningRequests: 32 });
  t.teardown(() => engine.close());
  const prompts = Array.from({ length: 32 }, (_, i) => tokenIds(i + 1, 5 + (i % 13)));
  const alone = [];
  for (const p of prompts) alone.push((await engine.generate({ inputIds: p, maxTokens: 12, temperature: 0, ignoreEos: true })).tokenIds);
  await engine.flushCache();
  const together = await Promise.all(prompts.map((p) => engine.generate({ inputIds: p, maxTokens: 12, temperature: 0, ignoreEos: true })));
  t.same(together.map((r) => r.tokenIds), alone);
});

t.test(`${device}: a cached 100-token prefix is reused and gives the same logprobs as a cold run`, async (t) => {
  const engine = await fixtureEngine('qwen2', d);
  t.teardown(() => engine.close());
  const prefix = tokenIds(77, 100);
  const req = (suffix: number[]) => ({ inputIds: [...prefix, ...suffix], maxTokens: 3, temperature: 0, ignoreEos: true, topLogprobs: 20 });
  await engine.generate(req([5, 6, 7]));
  const warm = await engine.generate(req([9, 10]));
  t.ok(warm.usage.cachedTokens >= 100, `cachedTokens ${warm.usage.cachedTokens} ≥ 100`);
  t.ok(await engine.flushCache(), 'cache flushed');
  const cold = await engine.generate(req([9, 10]));
  t.equal(cold.usage.cachedTokens, 0, 'cold run has nothing cached');
  t.same(warm.tokenIds, cold.tokenIds);
  for (let i = 0; i < 3; i++) {
    const w = warm.logprobs![i]!.topLogprobs!.map((x) => x.logprob);
    const c = cold.logprobs![i]!.topLogprobs!.map((x) => x.logprob);
    t.same(warm.logprobs![i]!.topLogprobs!.map((x) => x.token), cold.logprobs![i]!.topLogprobs!.map((x) => x.token));
    t.ok(rowRelError(w, c) <= 1e-4, `position ${i} logprobs within 1e-4`);
  }
});

}

t.test('sampling: seeds reproduce, stop strings and stop tokens end output, streams add up', async (t) => {
  const engine = await fixtureEngine('qwen2');
  t.teardown(() => engine.close());
  const base = { prompt: 'The quick brown fox', maxTokens: 12, temperature: 1, topP: 0.9, ignoreEos: true };
  const a = await engine.generate({ ...base, seed: 42 });
  const b = await engine.generate({ ...base, seed: 42 });
  t.same(a.tokenIds, b.tokenIds, 'same seed, same tokens');
  const greedy = await engine.generate({ prompt: 'The quick brown fox', maxTokens: 12, temperature: 0, ignoreEos: true });
  const stopAt = greedy.tokenIds[3]!;
  const st = await engine.generate({ prompt: 'The quick brown fox', maxTokens: 12, temperature: 0, ignoreEos: true, stopTokenIds: [stopAt] });
  t.equal(st.finishReason, 'stop');
  t.equal(st.matchedStop, stopAt);
  t.same(st.tokenIds, greedy.tokenIds.slice(0, greedy.tokenIds.indexOf(stopAt) + 1));
  const stopText = greedy.text.slice(2, 5);
  if (stopText.length === 3) {
    const ss = await engine.generate({ prompt: 'The quick brown fox', maxTokens: 12, temperature: 0, ignoreEos: true, stop: [stopText] });
    t.equal(ss.finishReason, 'stop');
    t.equal(ss.matchedStop, stopText);
    t.equal(ss.text, greedy.text.slice(0, greedy.text.indexOf(stopText)), 'text ends before the stop string');
  }
  let streamed = '';
  const ids: number[] = [];
  for await (const c of engine.stream({ prompt: 'The quick brown fox', maxTokens: 12, temperature: 0, ignoreEos: true })) {
    streamed += c.text;
    ids.push(...c.tokenIds);
  }
  t.equal(streamed, greedy.text, 'streamed text equals generate()');
  t.same(ids, greedy.tokenIds);
});
