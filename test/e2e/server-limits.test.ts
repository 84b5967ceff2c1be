import t from 'tap';
import OpenAI from 'openai';
import { kvIdle, MODEL_NAME, postJson, startTestServer } from '../helpers/server.js';
import { tokenIds } from '../helpers/engine.js';

const { url, engine, arbor } = await startTestServer(
  { maxPromptsPerRequest: 100, maxPromptTokensPerRequest: 500 },
  { maxRunningRequests: 4, maxQueuedRequests: 8 },
);
t.teardown(() => arbor.close());
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
const texts = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);

t.test('too many prompts in one request: 400 naming --max-prompts-per-request, before any work', async (t) => {
  const before = engine.stats().promptTokensTotal;
  for (const body of [{ text: texts(101) }, { input_ids: Array.from({ length: 101 }, () => [1, 2]) }, { text: texts(50), sampling_params: { n: 3 } }]) {
    const r = await postJson(`${url}/generate`, body);
    t.equal(r.status, 400);
    t.match(r.body.error.message, /asks for (101|150) prompts .*at most 100 per request \(--max-prompts-per-request\)/);
  }
  const err = await client.completions.create({ model: MODEL_NAME, prompt: texts(101), max_tokens: 1 }).catch((e: Error) => e);
  t.type(err, OpenAI.BadRequestError);
  t.match((err as Error).message, /^400 prompt: asks for 101 prompts/);
  const chat = await client.chat.completions.create({ model: MODEL_NAME, messages: [{ role: 'user', content: 'hi' }], n: 101, max_tokens: 1 }).catch((e: Error) => e);
  t.match((chat as Error).message, /^400 n: asks for 101 prompts/);
  t.equal(engine.stats().promptTokensTotal, before, 'nothing reached the engine');
});

t.test('too many prompt tokens in one request: 400 naming --max-prompt-tokens-per-request', async (t) => {
  const r = await postJson(`${url}/generate`, { input_ids: [tokenIds(1, 200), tokenIds(2, 200), tokenIds(3, 200)] });
  t.equal(r.status, 400);
  t.match(r.body.error.message, /^input_ids: holds 600 prompt tokens in all; at most 500 per request \(--max-prompt-tokens-per-request\)/);
  const err = await client.completions.create({ model: MODEL_NAME, prompt: [tokenIds(4, 200), tokenIds(5, 200), tokenIds(6, 200)], max_tokens: 1 }).catch((e: Error) => e);
  t.match((err as Error).message, /^400 prompt: holds 600 prompt tokens/);
  t.equal((await postJson(`${url}/generate`, { input_ids: [tokenIds(1, 200), tokenIds(2, 200)], sampling_params: { max_new_tokens: 1 } })).status, 200, '400 tokens pass');
});

t.test('a full queue: 503 naming --max-queued-requests (SGLang answers a full queue with 503)', async (t) => {
  const big = await postJson(`${url}/generate`, { text: texts(13), sampling_params: { max_new_tokens: 1 } });
  t.equal(big.status, 503, 'a list that cannot fit is refused as a whole');
  t.match(big.body.error.message, /the request queue is full: 0 waiting \+ 13 asked > 8 \(--max-queued-requests\)/);

  const ac = new AbortController();
  const occupy = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => engine.generate({ inputIds: tokenIds(from + i, 5), maxTokens: 200, ignoreEos: true, signal: ac.signal }));
  // Requests wait until admitted: the 4 that will run first, then 8 more that fill the queue.
  const occupying = occupy(10, 4);
  while (engine.stats().running < 4) await new Promise((r) => setTimeout(r, 5));
  occupying.push(...occupy(20, 8));
  while (engine.stats().queued < 8) await new Promise((r) => setTimeout(r, 5));
  await t.rejects(engine.generate({ inputIds: [1, 2], maxTokens: 1 }), { name: 'QueueFullError', limit: 8, message: /maxQueuedRequests: 8/ });
  const res = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'one more' }) });
  t.equal(res.status, 503);
  t.equal(res.headers.get('retry-after'), '1');
  t.match(await res.json(), { error: { message: /request queue is full.*--max-queued-requests/ } });
  const err = await client.completions.create({ model: MODEL_NAME, prompt: 'one more', max_tokens: 1 }).catch((e: Error) => e);
  t.type(err, OpenAI.APIError);
  t.equal((err as InstanceType<typeof OpenAI.APIError>).status, 503);
  const info = (await (await fetch(`${url}/get_server_info`)).json()) as Record<string, unknown>;
  t.match(info, { max_queued_requests: 8, max_prompts_per_request: 100, max_prompt_tokens_per_request: 500 });
  ac.abort();
  const ends = await Promise.all(occupying);
  t.ok(ends.every((r) => r.finishReason === 'abort'));
  t.ok(await kvIdle(engine));
});
