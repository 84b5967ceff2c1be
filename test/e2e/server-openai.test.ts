import t from 'tap';
import OpenAI from 'openai';
import { chatRequestToGenerate } from '../../src/openai/chat.js';
import { kvIdle, MODEL_NAME, startTestServer } from '../helpers/server.js';

const API_KEY = 'sk-arbor-test';
const { url, engine, arbor } = await startTestServer({ apiKey: API_KEY });
t.teardown(() => arbor.close());
const tok = engine.tokenizer;
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: API_KEY, maxRetries: 0 });

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say something about trees.' },
];
/** What the engine generates for `messages` on its own, rendered with the model's chat template. */
const chatAlone = (maxTokens: number, extra: object = {}) =>
  engine.generate({ inputIds: tok.encode(tok.applyChatTemplate(messages), { addSpecialTokens: false }), maxTokens, temperature: 0, ...extra });

t.test('models.list names the served model', async (t) => {
  const models = await client.models.list();
  t.same(
    models.data.map((m) => [m.id, m.object]),
    [[MODEL_NAME, 'model']],
  );
});

t.test('chat completion (not streamed) matches the engine on the rendered template', async (t) => {
  const want = await chatAlone(8);
  const r = await client.chat.completions.create({ model: MODEL_NAME, messages, max_tokens: 8, temperature: 0 });
  t.match(r.id, /^chatcmpl-/);
  t.equal(r.object, 'chat.completion');
  t.equal(r.model, MODEL_NAME);
  t.type(r.created, 'number');
  t.equal(r.choices.length, 1);
  t.match(r.choices[0], { index: 0, message: { role: 'assistant', content: want.text }, finish_reason: want.finishReason });
  t.match(r.usage, { prompt_tokens: want.usage.promptTokens, completion_tokens: want.tokenIds.length, total_tokens: want.usage.promptTokens + want.tokenIds.length });
  t.type(r.usage?.prompt_tokens_details?.cached_tokens, 'number');
});

t.test('chat completion streamed: deltas add up, usage chunk last', async (t) => {
  const want = await chatAlone(10, { ignoreEos: true });
  const stream = await client.chat.completions.create({
    model: MODEL_NAME,
    messages,
    max_tokens: 10,
    temperature: 0,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  } as OpenAI.ChatCompletionCreateParamsStreaming);
  let text = '';
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.choices[0]?.delta.content ?? '';
  }
  t.equal(text, want.text);
  t.equal(chunks[0]!.choices[0]!.delta.role, 'assistant', 'the first delta names the role');
  t.ok(chunks.every((c) => c.id === chunks[0]!.id && c.object === 'chat.completion.chunk'));
  const last = chunks.at(-1)!;
  t.same(last.choices, [], 'the usage chunk has no choices');
  t.match(last.usage, { prompt_tokens: want.usage.promptTokens, completion_tokens: 10 });
  t.equal(chunks.at(-2)!.choices[0]!.finish_reason, 'length');
});

t.test('chat logprobs: content entries with bytes and top_logprobs', async (t) => {
  const r = await client.chat.completions.create({ model: MODEL_NAME, messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0]!.logprobs!.content!;
  t.equal(content.length, r.usage!.completion_tokens);
  for (const entry of content) {
    t.equal(entry.top_logprobs.length, 3);
    t.same(entry.bytes, [...Buffer.from(entry.token, 'utf8')]);
    t.equal(entry.top_logprobs[0]!.logprob, entry.logprob, 'greedy picks the top alternative');
  }
  t.equal(content.map((c) => c.token).join(''), r.choices[0]!.message.content);
});

t.test('completions: text, legacy logprobs, streaming, n', async (t) => {
  const prompt = 'Once upon a time';
  const want = await engine.generate({ prompt, maxTokens: 6, temperature: 0, ignoreEos: true });
  const r = await client.completions.create({ model: MODEL_NAME, prompt, max_tokens: 6, temperature: 0, logprobs: 2, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
  t.match(r.id, /^cmpl-/);
  t.equal(r.object, 'text_completion');
  t.equal(r.choices[0]!.text, want.text);
  t.equal(r.choices[0]!.finish_reason, 'length');
  const lp = r.choices[0]!.logprobs!;
  t.equal(lp.tokens!.length, 6);
  t.same(lp.tokens, want.tokenIds.map((id) => tok.tokenText(id)));
  t.ok(lp.top_logprobs!.every((top) => Object.keys(top).length <= 2 && Object.keys(top).length >= 1));
  t.equal(lp.text_offset![0], 0);
  lp.text_offset!.forEach((off, i) => i > 0 && t.equal(off, lp.text_offset![i - 1]! + lp.tokens![i - 1]!.length));

  const stream = await client.completions.create({ model: MODEL_NAME, prompt, max_tokens: 6, temperature: 0, stream: true, ignore_eos: true } as OpenAI.CompletionCreateParamsStreaming);
  let text = '';
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  t.equal(text, want.text);
  t.equal(finish, 'length');

  const many = await client.completions.create({ model: MODEL_NAME, prompt: [prompt, 'Another prompt'], max_tokens: 4, n: 2, seed: 7 });
  t.same(
    many.choices.map((c) => c.index),
    [0, 1, 2, 3],
    'n choices per prompt, prompt-major',
  );
  const again = await client.completions.create({ model: MODEL_NAME, prompt: [prompt, 'Another prompt'], max_tokens: 4, n: 2, seed: 7 });
  t.same(
    again.choices.map((c) => c.text),
    many.choices.map((c) => c.text),
    'a seed makes n > 1 reproducible',
  );
});

t.test('usage.prompt_tokens_details.cached_tokens counts a repeated prompt', async (t) => {
  const prompt = 'A long shared prefix that the radix cache should keep around for the next request';
  const first = await client.completions.create({ model: MODEL_NAME, prompt, max_tokens: 2, temperature: 0 });
  const second = await client.completions.create({ model: MODEL_NAME, prompt, max_tokens: 2, temperature: 0 });
  t.equal(first.usage!.prompt_tokens, tok.encode(prompt).length);
  t.ok(second.usage!.prompt_tokens_details!.cached_tokens! >= first.usage!.prompt_tokens - 1, `cached ${second.usage!.prompt_tokens_details!.cached_tokens}`);
});

t.test('stop, penalties, top_k, min_p and logit_bias are accepted', async (t) => {
  const forced = 77;
  const r = await client.completions.create({
    model: MODEL_NAME,
    prompt: 'Bias me',
    max_tokens: 3,
    temperature: 0.7,
    top_p: 0.9,
    top_k: 20,
    min_p: 0.01,
    presence_penalty: 0.5,
    frequency_penalty: 0.5,
    ignore_eos: true,
    logit_bias: { [forced]: 100 },
    stop: ['\n\n'],
  } as OpenAI.CompletionCreateParamsNonStreaming);
  t.equal(r.choices[0]!.text, tok.decode([forced, forced, forced]), 'a +100 bias forces the token');
});

t.test('errors reach the client as APIError with the field named', async (t) => {
  await t.rejects(client.chat.completions.create({ model: MODEL_NAME, messages, temperature: 7 }), { status: 400, message: /temperature/ });
  await t.rejects(client.chat.completions.create({ model: MODEL_NAME, messages: [{ role: 'wizard' as 'user', content: 'x' }] }), { status: 400, message: /messages\[0\]\.role/ });
  const wrongKey = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await t.rejects(wrongKey.models.list(), { status: 401, message: /API key/ });
  t.ok(await kvIdle(engine));
});

t.test('chatRequestToGenerate: template override, defaults, developer role', async (t) => {
  const template = '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}';
  const parsed = await chatRequestToGenerate(
    { messages: [{ role: 'developer', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'text', text: 'there' }] }] },
    tok,
    { contextLength: 256, chatTemplate: template },
  );
  const ids = tok.encode('[system]be brief[user]hi\nthere', { addSpecialTokens: false });
  t.same(parsed.request.inputIds, ids, 'developer renders as system; text parts join with newlines');
  t.equal(parsed.request.maxTokens, 256 - ids.length, 'without max_tokens the reply may fill the context');
  t.match(parsed, { n: 1, stream: false, includeUsage: false, logprobs: false, topLogprobs: 0 });
});
