import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { MODELS } from '../helpers/fixtures.js';

interface GreedyReference {
  references: { prompt: string; prompt_ids: number[]; greedy_ids: number[]; generate_ids: number[]; generate_text: string }[];
}
const ref = JSON.parse(readFileSync(join(MODELS, 'arbor-tiny', 'greedy-reference.json'), 'utf8')) as GreedyReference;

t.test('Engine.create() with no arguments serves the bundled arbor-tiny; greedy output equals transformers', async (t) => {
  const engine = await Engine.create();
  t.teardown(() => engine.close());
  t.equal(engine.modelPath, join(MODELS, 'arbor-tiny'));
  for (const r of ref.references) {
    t.same(engine.tokenizer.encode(r.prompt), r.prompt_ids, 'prompt tokenizes as with Hugging Face tokenizers');
    const greedy = await engine.generate({ inputIds: r.prompt_ids, maxTokens: r.greedy_ids.length, temperature: 0, ignoreEos: true });
    t.same(greedy.tokenIds, r.greedy_ids, `"${r.prompt.slice(0, 30)}…": 32 greedy tokens equal transformers'`);
    const stopped = await engine.generate({ inputIds: r.prompt_ids, maxTokens: 32, temperature: 0 });
    t.same(stopped.tokenIds, r.generate_ids, 'generation stops at the same EOS as transformers generate()');
  }
  const chat = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'What does the word ocean mean?' }], max_tokens: 40, temperature: 0 });
  t.equal(chat.object, 'chat.completion');
  t.equal(chat.choices[0]!.finish_reason, 'stop', 'the chat answer ends with the end-of-turn token');
  t.ok(chat.choices[0]!.message.content.length > 0, `answer: ${JSON.stringify(chat.choices[0]!.message.content)}`);
  const chunks = [];
  for await (const c of await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Tell me a saying.' }], max_tokens: 30, stream: true, temperature: 0 })) chunks.push(c);
  t.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
  t.ok(chunks.at(-1)!.choices[0]!.finish_reason, 'the stream ends with a finish reason');

  // n > 1 streams its choices concurrently (as the server does), each starting with the role.
  const order: number[] = [];
  const firstOf = new Map<number, string | undefined>();
  for await (const c of await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Tell me a saying.' }], max_tokens: 12, stream: true, temperature: 0.8, seed: 1, n: 2, ignore_eos: true })) {
    for (const ch of c.choices) {
      order.push(ch.index);
      if (!firstOf.has(ch.index)) firstOf.set(ch.index, ch.delta.role);
    }
  }
  const lastOfFirst = order.lastIndexOf(0);
  t.ok(order.indexOf(1) < lastOfFirst, `choice 1 streams before choice 0 is done (order ${order.join('')})`);
  t.same([...firstOf.entries()].sort(), [[0, 'assistant'], [1, 'assistant']], 'each choice opens with the role');
});
