import t from 'tap';
import { fixtureEngine } from '../helpers/engine.js';
import { POOL_THRESHOLD } from '../../src/tokenizer/tokenizer-pool.js';

t.test('large tokenize/detokenize batches run on the piscina pool and match the inline tokenizer', async (t) => {
  const engine = await fixtureEngine('qwen2');
  t.teardown(() => engine.close());
  const texts = Array.from({ length: POOL_THRESHOLD * 3 + 7 }, (_, i) => `Sample ${i}: the quick brown fox jumps over ${i % 13} lazy dogs.`);
  const pooled = await engine.tokenize(texts);
  t.equal(pooled.length, texts.length, 'one result per text, in order');
  t.same(pooled, texts.map((s) => engine.tokenizer.encode(s)), 'pooled ids equal inline ids');
  const back = await engine.detokenize(pooled);
  t.same(back, pooled.map((ids) => engine.tokenizer.decode(ids, { skipSpecialTokens: true })), 'pooled decode equals inline decode');
  const small = await engine.tokenize(['hello'], false);
  t.same(small, [engine.tokenizer.encode('hello', { addSpecialTokens: false })]);
});
