import t from 'tap';
import type { GenerateRequest, GenerateResult } from '../../src/engine/types.js';
import { EngineBackend, program, type ChoiceMethod, type LangEngine, type SelectMetaInfo } from '../../src/lang/index.js';
import { fixtureEngine } from '../helpers/engine.js';

const engine = await fixtureEngine('qwen2');
t.teardown(() => engine.close());
const tok = engine.tokenizer;

/** Records every request the backend sends (and what it got back), to check how select batches. */
function recording(): { backend: EngineBackend; log: { req: GenerateRequest; result?: GenerateResult; issuedWhileOpen: number }[] } {
  const log: { req: GenerateRequest; result?: GenerateResult; issuedWhileOpen: number }[] = [];
  let open = 0;
  const spy: LangEngine = {
    tokenizer: tok,
    stream: (req) => engine.stream(req),
    generate: async (req) => {
      const entry: (typeof log)[number] = { req, issuedWhileOpen: open++ };
      log.push(entry);
      try {
        return (entry.result = await engine.generate(req));
      } finally {
        open--;
      }
    },
  };
  return { backend: new EngineBackend(spy), log };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Select computed from scratch: each full sequence scored from position 0, no cache, no batching. */
async function bruteForce(prefix: string, choices: string[], method: ChoiceMethod): Promise<{ index: number; normalized: number[]; scored: number[][]; ids: number[][] }> {
  const prefixIds = tok.encode(prefix);
  const scored: number[][] = [];
  const ids: number[][] = [];
  for (const c of choices) {
    const full = tok.encode(prefix + c);
    let d = 0;
    while (d < prefixIds.length && full[d] === prefixIds[d]) d++;
    const r = await engine.generate({ inputIds: full, maxTokens: 0, promptLogprobsFrom: 0 });
    scored.push(r.promptLogprobs!.slice(d).map((p) => p.logprob!));
    ids.push(full.slice(d));
  }
  const normalized = scored.map(mean);
  const argmax = (xs: number[]): number => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);
  if (method === 'token_length_normalized') return { index: argmax(normalized), normalized, scored, ids };
  if (method === 'unconditional_likelihood_normalized') {
    const diffs: number[] = [];
    for (const [i, own] of ids.entries()) {
      const r = await engine.generate({ inputIds: own, maxTokens: 0, promptLogprobsFrom: 0 });
      diffs.push(mean(scored[i]!.map((lp, j) => lp - (r.promptLogprobs![j]!.logprob ?? 0))));
    }
    return { index: argmax(diffs), normalized, scored, ids };
  }
  const width = Math.max(...scored.map((s) => s.length));
  const rows = scored.map((s, i) => Array.from({ length: width }, (_, j) => s[j] ?? normalized[i]!));
  let alive = rows.map((_, i) => i);
  for (let j = 0; j < width && alive.length > 1; j++) {
    const best = Math.max(...alive.map((i) => rows[i]![j]!));
    alive = alive.filter((i) => rows[i]![j] === best);
  }
  return { index: alive[0]!, normalized, scored, ids };
}

const CASES = [
  // The trailing space joins the choice's first word: token healing re-scores it.
  { prefix: 'To answer this question: what is 12 times 7, I need to use a ', choices: ['calculator', 'search engine', 'calendar'] },
  // No healing; two choices share their first token, so greedy selection has to look further.
  { prefix: 'The colour of the sky is', choices: [' blue', ' blue green', ' grey', ' red and gold'] },
];
const METHODS: ChoiceMethod[] = ['token_length_normalized', 'greedy_token_selection', 'unconditional_likelihood_normalized'];

for (const { prefix, choices } of CASES) {
  for (const method of METHODS) {
    t.test(`select ${method} equals brute force: ${JSON.stringify(prefix)}`, async (t) => {
      const { backend, log } = recording();
      const prog = program(async (s) => {
        s.append(prefix);
        await s.select('pick', { choices, method });
      });
      const state = await prog.run(undefined, { backend });
      const meta = state.metaInfo('pick') as SelectMetaInfo;
      const want = await bruteForce(prefix, choices, method);
      t.equal(state.get('pick'), choices[want.index], `chose ${choices[want.index]}`);
      t.equal(meta.index, want.index);
      t.equal(state.text(), prefix + choices[want.index]);
      meta.inputTokenLogprobs.forEach((entries, i) => {
        t.same(entries.map((e) => e.token), want.ids[i], `choice ${i}: scored from the first token that differs`);
        t.same(entries.map((e) => e.text), want.ids[i]!.map((id) => tok.tokenText(id)));
        entries.forEach((e, j) => t.ok(Math.abs(e.logprob! - want.scored[i]![j]!) < 1e-4, `choice ${i} token ${j} logprob`));
        t.ok(Math.abs(meta.normalizedPromptLogprobs[i]! - want.normalized[i]!) < 1e-4, `choice ${i} normalized logprob`);
      });

      // One prefix request, then every choice issued before any of them came back.
      const prefixIds = tok.encode(prefix);
      t.same(log[0]!.req, { inputIds: prefixIds, maxTokens: 0 }, 'first: the prefix, prefill only');
      const scoring = log.slice(1, 1 + choices.length);
      t.same(scoring.map((e) => e.issuedWhileOpen), choices.map((_, i) => i), 'all choices issued together');
      for (const e of scoring) {
        const from = e.req.promptLogprobsFrom!;
        t.equal(e.result!.usage.cachedTokens, from - 1, 'each choice reuses the cached prefix up to the scored token');
      }
      t.equal(log.length, method === 'unconditional_likelihood_normalized' ? 1 + 2 * choices.length : 1 + choices.length);
    });
  }
}

t.test('token healing: the prefix trailing space is scored as part of the choice', async (t) => {
  const { prefix, choices } = CASES[0]!;
  const prefixIds = tok.encode(prefix);
  const full = tok.encode(prefix + choices[0]);
  t.not(full[prefixIds.length - 1], prefixIds[prefixIds.length - 1], 'the fixture tokenizer merges the space into the choice');
  const { backend, log } = recording();
  await program(async (s) => void (await s.append(prefix).select('c', { choices }))).run(undefined, { backend });
  t.equal(log[1]!.req.promptLogprobsFrom, prefixIds.length - 1);
});

t.test('gen: greedy text and meta info match engine.generate', async (t) => {
  const prompt = 'Once upon a time';
  const want = await engine.generate({ prompt, maxTokens: 6, temperature: 0, logprobs: true, topLogprobs: 2, promptLogprobsFrom: 2 });
  const state = await program(async (s) => {
    s.append(prompt);
    await s.gen('story', { maxTokens: 6, logprobs: true, topLogprobs: 2, promptLogprobsFrom: 2 });
  }).run(undefined, { backend: new EngineBackend(engine), defaults: { temperature: 0, maxTokens: 99 } });
  t.equal(state.get('story'), want.text);
  t.equal(state.text(), prompt + want.text);
  const meta = state.metaInfo('story');
  t.match(meta, { kind: 'gen', promptTokens: tok.encode(prompt).length, completionTokens: want.tokenIds.length, finishReason: want.finishReason });
  if (meta.kind !== 'gen') throw new Error('gen meta expected');
  t.same(meta.outputTokenLogprobs!.map((e) => e.token), want.tokenIds);
  t.equal(meta.outputTokenLogprobs![0]!.topLogprobs!.length, 2);
  t.same(meta.inputTokenLogprobs!.map((e) => e.token), tok.encode(prompt).slice(2));
  t.equal(meta.inputTokenLogprobs![0]!.topLogprobs!.length, 2, 'prompt alternatives come with topLogprobs');
});

t.test('roles: the model chat template, messages, and a gen after the assistant opening', async (t) => {
  const state = await program(async (s) => {
    await s.system('You are terse.');
    await s.user('Name a colour.');
    await s.assistant((a) => a.gen('reply', { maxTokens: 5, temperature: 0 }));
  }).run(undefined, { backend: new EngineBackend(engine) });
  const asked = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Name a colour.' },
  ];
  const prompt = tok.applyChatTemplate(asked, { addGenerationPrompt: true });
  const want = await engine.generate({ prompt, maxTokens: 5, temperature: 0 });
  t.equal(state.get('reply'), want.text);
  t.same(state.messages(), [...asked, { role: 'assistant', content: want.text.trimStart() }], 'message content without leading space, as SGLang');
  t.equal(state.text(), tok.applyChatTemplate([...asked, { role: 'assistant', content: want.text }], { addGenerationPrompt: false }));
});

t.test('stream a variable while it is generated', async (t) => {
  const pieces: string[] = [];
  const state = await program(async (s) => {
    s.append('The river flows');
    void s.gen('more', { maxTokens: 8, temperature: 0, ignoreEos: true });
    for await (const piece of s.stream('more')) pieces.push(piece);
  }).run(undefined, { backend: new EngineBackend(engine) });
  t.ok(pieces.length > 1, `${pieces.length} pieces`);
  t.equal(pieces.join(''), state.get('more'));
});

t.test('fork children and runBatch programs reuse the shared prefix from the radix cache', async (t) => {
  const backend = new EngineBackend(engine);
  const shared = 'A long shared preamble that every program in this batch starts with, word for word, before its own part.';
  const sharedTokens = tok.encode(shared).length;
  const forked = await program(async (s) => {
    s.append(shared + ' Forked');
    const forks = await s.fork(3);
    await forks.all((c, i) => c.append(` branch ${i}:`).gen('b', { maxTokens: 2, temperature: 0 }));
    await forks.join();
    return forks.states.map((c) => c.metaInfo('b'));
  }).run(undefined, { backend });
  t.equal(forked.getList('b').length, 3);
  for (const m of forked.returnValue!) t.ok(m.kind === 'gen' && m.cachedTokens >= sharedTokens, `fork child reused ${m.kind === 'gen' ? m.cachedTokens : 0} cached tokens`);

  await engine.flushCache();
  const prog = program(async (s, args: { n: number }) => {
    s.append(`${shared} Program number ${args.n} says`);
    await s.gen('x', { maxTokens: 2, temperature: 0 });
  });
  const states = await prog.runBatch(
    [1, 2, 3, 4].map((n) => ({ n })),
    { backend, concurrency: 4, progress: false },
  );
  for (const [i, s] of states.entries()) {
    const m = s.metaInfo('x');
    t.ok(m.kind === 'gen' && m.cachedTokens >= sharedTokens - 1, `program ${i} reused ${m.kind === 'gen' ? m.cachedTokens : 0} of ${m.kind === 'gen' ? m.promptTokens : 0} prompt tokens`);
  }
});

t.test('a run signal reaches every request without listener warnings; an aborted run fails', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  const controller = new AbortController();
  const choices = Array.from({ length: 12 }, (_, i) => ` option ${i}`);
  const prog = program(async (s) => {
    s.append('Choose one:');
    await s.select('c', { choices });
  });
  const state = await prog.run(undefined, { backend: new EngineBackend(engine), signal: controller.signal });
  t.ok(choices.includes(state.get('c')));
  await new Promise((resolve) => setTimeout(resolve, 10));
  process.off('warning', onWarning);
  t.same(warnings, [], 'no MaxListenersExceededWarning');
  controller.abort();
  await t.rejects(prog.run(undefined, { backend: new EngineBackend(engine), signal: controller.signal }), { name: 'ProgramError', message: /aborted/ });
});
