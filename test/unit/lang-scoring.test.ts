import t from 'tap';
import type { ScoredChoice, TokenLogprobEntry } from '../../src/lang/index.js';
import { decide, scorableTokens } from '../../src/lang/choices.js';
import { entriesOf, generateFields, genMetaOf } from '../../src/lang/native-wire.js';
import { sseEvents } from '../../src/lang/sse.js';
import { firstScoredOffset, healingWindowStart } from '../../src/lang/token-healing.js';

const tokens = (...lps: number[]): TokenLogprobEntry[] => lps.map((logprob, i) => ({ token: i, logprob, text: `t${i}` }));
const choice = (...lps: number[]): ScoredChoice => ({ tokens: tokens(...lps) });

t.test('token_length_normalized: the highest mean, ties to the first', async (t) => {
  const m = decide('token_length_normalized', [choice(-1, -3), choice(-1.5), choice(-2, -1, -0.5, -0.5)]);
  t.same(m.normalizedPromptLogprobs, [-2, -1.5, -1]);
  t.equal(m.index, 2);
  t.same(m.outputTokenLogprobs, [[], [], []]);
  t.equal(decide('token_length_normalized', [choice(-1), choice(-1)]).index, 0);
});

t.test('greedy_token_selection: token by token, shorter choices padded with their mean', async (t) => {
  // Column 0 ties choices 0 and 1 (choice 2 drops out); column 1: choice 0 has -2, choice 1 pads with its mean -1.
  const m = decide('greedy_token_selection', [choice(-1, -2), choice(-1), choice(-3, 0)]);
  t.same(m.greedyLogprobMatrix, [
    [-1, -2],
    [-1, -1],
    [-3, 0],
  ]);
  t.equal(m.index, 1);
  t.equal(decide('greedy_token_selection', [choice(-1, -1), choice(-1, -1)]).index, 0, 'a full tie goes to the first');
});

t.test('unconditional_likelihood_normalized: mean of conditional minus unconditional, first unconditional as 0', async (t) => {
  const scored: ScoredChoice[] = [
    { tokens: tokens(-2, -2), unconditional: [{ token: 0, logprob: null, text: 'a' }, { token: 1, logprob: -4, text: 'b' }] },
    { tokens: tokens(-1), unconditional: [{ token: 0, logprob: null, text: 'c' }] },
  ];
  const m = decide('unconditional_likelihood_normalized', scored);
  t.same(m.normalizedUnconditionalPromptLogprobs, [0, -1]);
  t.equal(m.index, 0, 'the likelier-anywhere choice loses its advantage');
  t.same(m.normalizedPromptLogprobs, [-2, -1]);
  t.throws(() => decide('unconditional_likelihood_normalized', [choice(-1)]), { name: 'LangError', field: 'select.method' });
});

t.test('scorable tokens and token healing offsets', async (t) => {
  t.same(scorableTokens([{ token: 1, logprob: null, text: 'a' }, ...tokens(-1)], 0).length, 1, 'the null first-token entry is dropped');
  t.throws(() => scorableTokens([{ token: 1, logprob: null, text: 'a' }], 3), { name: 'LangError', field: 'select.choices[3]' });
  t.equal(healingWindowStart(10), 8);
  t.equal(healingWindowStart(1), 0);
  t.equal(firstScoredOffset([5, 6], [5, 6, 7], 0), 2, 'no healing: score from the first choice token');
  t.equal(firstScoredOffset([5, 6], [5, 9, 7], 0), 1, 'the last prefix token was re-tokenized with the choice');
  t.equal(firstScoredOffset([5, 6], [8], 0), 0);
  t.throws(() => firstScoredOffset([5, 6], [5, 6], 2), { name: 'LangError', field: 'select.choices[2]' });
});

t.test('gen options become /generate fields; meta_info comes back as gen meta', async (t) => {
  t.same(generateFields({ maxTokens: 5, temperature: 0, topK: 3, stop: ['\n'], ignoreEos: true, includeSpecialTokens: true, logitBias: { 7: -1 } }), {
    sampling_params: { max_new_tokens: 5, temperature: 0, top_k: 3, logit_bias: { 7: -1 }, stop: ['\n'], ignore_eos: true, skip_special_tokens: false },
  });
  t.same(generateFields({ logprobs: true, topLogprobs: 2, promptLogprobsFrom: 3 }), {
    sampling_params: {},
    return_logprob: true,
    return_text_in_logprobs: true,
    logprob_start_len: 3,
    top_logprobs_num: 2,
  });
  const meta = genMetaOf(
    {
      prompt_tokens: 4,
      completion_tokens: 1,
      cached_tokens: 2,
      finish_reason: { type: 'stop', matched: '\n' },
      input_token_logprobs: [[-1, 9, 'x']],
      output_token_logprobs: [[-0.5, 3, 'y']],
      output_top_logprobs: [[[-0.5, 3, 'y'], [-2, 4, 'z']]],
    },
    { logprobs: true, topLogprobs: 2, promptLogprobsFrom: 3 },
  );
  t.same(meta, {
    kind: 'gen',
    promptTokens: 4,
    completionTokens: 1,
    cachedTokens: 2,
    finishReason: 'stop',
    matchedStop: '\n',
    inputTokenLogprobs: [{ token: 9, logprob: -1, text: 'x' }],
    outputTokenLogprobs: [{ token: 3, logprob: -0.5, text: 'y', topLogprobs: [{ token: 3, logprob: -0.5, text: 'y' }, { token: 4, logprob: -2, text: 'z' }] }],
  });
  t.same(entriesOf([[null, 1, null]]), [{ token: 1, logprob: null, text: '' }]);
  t.throws(() => genMetaOf({ prompt_tokens: 1, completion_tokens: 0, cached_tokens: 0, finish_reason: null }, {}), { name: 'BackendError' });
});

t.test('server-sent events split anywhere, errors and a missing [DONE]', async (t) => {
  const body = (...parts: string[]): ReadableStream<Uint8Array> =>
    new ReadableStream({
      start(c) {
        for (const p of parts) c.enqueue(new TextEncoder().encode(p));
        c.close();
      },
    });
  const read = async (s: ReadableStream<Uint8Array>): Promise<unknown[]> => {
    const out: unknown[] = [];
    for await (const e of sseEvents(s)) out.push(e);
    return out;
  };
  t.same(await read(body('data: {"text":"a"}\n', '\ndata: {"te', 'xt":"ab"}\n\ndata: [DONE]\n\n')), [{ text: 'a' }, { text: 'ab' }]);
  await t.rejects(read(body('data: {"error":{"message":"boom"}}\n\ndata: [DONE]\n\n')), { name: 'BackendError', message: /boom/ });
  await t.rejects(read(body('data: {"text":"a"}\n\n')), { message: /without \[DONE\]/ });
});
