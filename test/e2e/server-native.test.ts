import t from 'tap';
import { createArborServer } from '../../src/server/server.js';
import { kvIdle, MODEL_NAME, postJson, sseData, startTestServer } from '../helpers/server.js';

const { url, engine, arbor } = await startTestServer({ enableMetrics: true });
t.teardown(() => arbor.close());
const tok = engine.tokenizer;
const JSON_HEADERS = { 'Content-Type': 'application/json' };
const greedy = (max: number) => ({ max_new_tokens: max, temperature: 0 });

type Triple = [number | null, number, string | null];
interface Native {
  text: string;
  meta_info: Record<string, any> & { input_token_logprobs?: Triple[]; output_token_logprobs?: Triple[] };
}

t.test('health, model info and server info', async (t) => {
  t.equal((await fetch(`${url}/health`)).status, 200);
  t.equal((await fetch(`${url}/health_generate`)).status, 200, 'health_generate generates a token');
  const info = await (await fetch(`${url}/get_model_info`)).json();
  t.same(info, { model_path: engine.modelPath, tokenizer_path: engine.modelPath, is_generation: true });
  const server = (await (await fetch(`${url}/get_server_info`)).json()) as Record<string, any>;
  t.match(server, { version: String, status: 'ready', served_model_name: MODEL_NAME, tp_size: 1, context_length: 256, max_total_tokens: 2048 });
  t.match(server.internal_states[0], { num_running_reqs: 0, num_queue_reqs: 0, healthy: true });
});

t.test('/generate: text, input_ids and list input match engine.generate', async (t) => {
  const prompt = 'Hello world, this is arbor';
  const alone = await engine.generate({ prompt, maxTokens: 8, temperature: 0 });
  const one = await postJson(`${url}/generate`, { text: prompt, rid: 'r-1', sampling_params: greedy(8) });
  t.equal(one.status, 200);
  const body = one.body as Native;
  t.equal(body.text, alone.text);
  t.match(body.meta_info, { id: 'r-1', prompt_tokens: tok.encode(prompt).length, completion_tokens: alone.tokenIds.length, cached_tokens: Number, e2e_latency: Number });
  t.same(body.meta_info.finish_reason, alone.finishReason === 'length' ? { type: 'length', length: 8 } : { type: 'stop', matched: alone.matchedStop });

  const put = await fetch(`${url}/generate`, { method: 'PUT', headers: JSON_HEADERS, body: JSON.stringify({ input_ids: tok.encode(prompt), sampling_params: greedy(8) }) });
  t.equal(((await put.json()) as Native).text, alone.text, 'PUT with input_ids gives the same text');

  const prompts = ['first prompt', 'the second one', 'and a third'];
  const list = await postJson(`${url}/generate`, { text: prompts, rid: ['a', 'b', 'c'], sampling_params: greedy(5) });
  t.equal(list.body.length, 3, 'a list input answers a JSON array');
  for (const [i, p] of prompts.entries()) {
    const want = await engine.generate({ prompt: p, maxTokens: 5, temperature: 0 });
    t.equal(list.body[i].text, want.text, `list item ${i} in order`);
    t.equal(list.body[i].meta_info.id, ['a', 'b', 'c'][i]);
  }
  const ids = await postJson(`${url}/generate`, { input_ids: prompts.map((p) => tok.encode(p)), sampling_params: greedy(5) });
  t.same(ids.body.map((r: Native) => r.text), list.body.map((r: Native) => r.text), 'a list of input_ids gives the same');
});

t.test('max_new_tokens 0, stop_token_ids, logprob triples and top logprobs', async (t) => {
  const prompt = 'Prefill only please';
  const zero = (await postJson(`${url}/generate`, { text: prompt, sampling_params: { max_new_tokens: 0 } })).body as Native;
  t.equal(zero.text, '');
  t.match(zero.meta_info, { completion_tokens: 0, finish_reason: { type: 'length', length: 0 } });

  const free = await engine.generate({ prompt: 'Stop me somewhere', maxTokens: 8, temperature: 0, ignoreEos: true });
  const stopId = free.tokenIds[3]!;
  const stopped = (await postJson(`${url}/generate`, { text: 'Stop me somewhere', sampling_params: { ...greedy(8), ignore_eos: true, stop_token_ids: [stopId] } })).body as Native;
  t.same(stopped.meta_info.finish_reason, { type: 'stop', matched: stopId }, 'matched is the stop token id');
  t.ok(stopped.meta_info.completion_tokens <= 4);

  const body = {
    text: 'Logprobs of this prompt',
    sampling_params: greedy(4),
    return_logprob: true,
    logprob_start_len: 0,
    top_logprobs_num: 3,
  };
  const r = (await postJson(`${url}/generate`, body)).body as Native;
  const ids = tok.encode(body.text);
  const inLp = r.meta_info.input_token_logprobs!;
  t.equal(inLp.length, ids.length, 'logprob_start_len 0 covers the whole prompt');
  t.same(inLp[0], [null, ids[0], null], 'the first prompt token has logprob null; text null without return_text_in_logprobs');
  t.ok(inLp.slice(1).every(([lp, id, text], k) => typeof lp === 'number' && lp <= 0 && id === ids[k + 1] && text === null));
  t.equal(r.meta_info.output_token_logprobs!.length, r.meta_info.completion_tokens);
  t.equal(r.meta_info.input_top_logprobs[0], null);
  t.ok(r.meta_info.input_top_logprobs.slice(1).every((top: Triple[]) => top.length === 3));
  t.ok(r.meta_info.output_top_logprobs.every((top: Triple[]) => top.length === 3));
  // Greedy: each output token is its position's most likely one.
  r.meta_info.output_token_logprobs!.forEach(([lp, id], k) => t.same([lp, id], r.meta_info.output_top_logprobs[k][0].slice(0, 2)));

  const none = (await postJson(`${url}/generate`, { ...body, logprob_start_len: -1, top_logprobs_num: 0 })).body as Native;
  t.same(none.meta_info.input_token_logprobs, [], 'logprob_start_len -1 reports no prompt positions');
  t.notOk('input_top_logprobs' in none.meta_info, 'no top logprobs without top_logprobs_num');
});

t.test('stop strings (trimmed or kept with no_stop_trim), n samples, streamed list input', async (t) => {
  const prompt = 'Tell me a story about';
  const alone = await engine.generate({ prompt, maxTokens: 16, temperature: 0, ignoreEos: true });
  // A stop string from plain ASCII in the greedy text, so it cannot split a multi-byte character.
  const at = alone.text.search(/[a-z ]{2}/);
  t.ok(at >= 0, `the greedy text ${JSON.stringify(alone.text)} has two ASCII letters in a row`);
  const stop = alone.text.slice(at, at + 2);
  const cut = alone.text.slice(0, alone.text.indexOf(stop));
  const params = { ...greedy(16), ignore_eos: true, stop };
  const trimmed = (await postJson(`${url}/generate`, { text: prompt, sampling_params: params })).body as Native;
  t.equal(trimmed.text, cut, 'the stop string is trimmed');
  t.same(trimmed.meta_info.finish_reason, { type: 'stop', matched: stop });
  const kept = (await postJson(`${url}/generate`, { text: prompt, sampling_params: { ...params, no_stop_trim: true } })).body as Native;
  t.equal(kept.text, cut + stop, 'no_stop_trim keeps it');

  const n = await postJson(`${url}/generate`, { text: prompt, rid: 'n', sampling_params: { max_new_tokens: 4, n: 3, seed: 1 } });
  t.same(n.body.map((r: Native) => r.meta_info.id), ['n-0', 'n-1', 'n-2'], 'n > 1 answers an array of samples');

  const res = await fetch(`${url}/generate`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ text: ['one', 'two'], stream: true, sampling_params: greedy(4) }) });
  const events = (await sseData(res)).slice(0, -1) as (Native & { index: number })[];
  t.same([...new Set(events.map((e) => e.index))].sort(), [0, 1], 'events of a streamed list carry their input index');
  for (const [i, text] of ['one', 'two'].entries()) {
    const last = events.filter((e) => e.index === i).at(-1)!;
    t.equal(last.text, (await engine.generate({ prompt: text, maxTokens: 4, temperature: 0 })).text);
  }
});

t.test("SGLang frontend's select: prefix, then prefix+choices with prompt logprobs", async (t) => {
  const prefix = 'The capital of France is';
  const choices = [' Paris', ' London', ' a big city'];
  const first = (await postJson(`${url}/generate`, { text: prefix, sampling_params: { max_new_tokens: 0 } })).body as Native;
  const promptTokens = first.meta_info.prompt_tokens as number;
  t.equal(promptTokens, tok.encode(prefix).length);
  const start = Math.max(promptTokens - 2, 0);
  const res = await postJson(`${url}/generate`, {
    text: choices.map((c) => prefix + c),
    sampling_params: { max_new_tokens: 0, temperature: 0 },
    return_logprob: true,
    return_text_in_logprobs: true,
    logprob_start_len: start,
  });
  t.equal(res.status, 200);
  const normalized: number[] = [];
  for (const [i, choice] of choices.entries()) {
    const r = res.body[i] as Native;
    const ids = tok.encode(prefix + choice);
    const want = await engine.generate({ inputIds: ids, maxTokens: 0, promptLogprobsFrom: start });
    const got = r.meta_info.input_token_logprobs!;
    t.equal(got.length, ids.length - start, `choice ${i}: positions from logprob_start_len to the end`);
    got.forEach(([lp, id, text], k) => {
      t.equal(id, ids[start + k]);
      t.equal(text, tok.tokenText(id), 'text of each token (return_text_in_logprobs)');
      const ref = want.promptLogprobs![k]!.logprob;
      if (ref === null) t.equal(lp, null);
      else t.ok(lp !== null && Math.abs(lp - ref) < 1e-4, `choice ${i} position ${start + k}: ${lp} ≈ ${ref}`);
    });
    t.same(r.meta_info.output_token_logprobs, []);
    t.ok(r.meta_info.cached_tokens > 0, 'the prefix sent first is reused');
    const values = got.map(([lp]) => lp).filter((lp): lp is number => lp !== null);
    normalized.push(values.reduce((a, b) => a + b, 0) / values.length);
  }
  t.ok(normalized.every(Number.isFinite), `token-length-normalized logprobs ${normalized.map((v) => v.toFixed(3)).join(', ')}`);
});

t.test('streaming: cumulative text, meta_info, [DONE]', async (t) => {
  const prompt = 'Stream this prompt';
  const alone = await engine.generate({ prompt, maxTokens: 12, temperature: 0, ignoreEos: true });
  const res = await fetch(`${url}/generate`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ text: prompt, stream: true, sampling_params: { ...greedy(12), ignore_eos: true } }) });
  t.equal(res.headers.get('content-type'), 'text/event-stream');
  const events = await sseData(res);
  t.equal(events.at(-1), '[DONE]');
  const data = events.slice(0, -1) as Native[];
  t.ok(data.length >= 1);
  data.forEach((e, k) => k > 0 && t.ok(e.text.startsWith(data[k - 1]!.text), 'text is cumulative'));
  t.equal(data.at(-1)!.text, alone.text);
  t.same(data.at(-1)!.meta_info.finish_reason, { type: 'length', length: 12 });
  t.ok(data.slice(0, -1).every((e) => e.meta_info.finish_reason === null));
});

t.test('a client that disconnects cancels its request and frees its KV', async (t) => {
  const before = engine.stats().generatedTokensTotal;
  const controller = new AbortController();
  const res = await fetch(`${url}/generate`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ text: 'Keep going for a long time', stream: true, sampling_params: { ...greedy(220), ignore_eos: true } }),
    signal: controller.signal,
  });
  await res.body!.getReader().read();
  controller.abort();
  t.ok(await kvIdle(engine), 'streaming: nothing running, KV back to idle');
  t.ok(engine.stats().generatedTokensTotal - before < 220, 'the stream stopped before its 220 tokens');

  const before2 = engine.stats().generatedTokensTotal;
  const plain = new AbortController();
  const pending = fetch(`${url}/generate`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ text: 'Keep going again', sampling_params: { ...greedy(220), ignore_eos: true } }),
    signal: plain.signal,
  }).catch((err: Error) => err);
  while (engine.stats().running === 0) await new Promise((r) => setTimeout(r, 2));
  plain.abort();
  t.type(await pending, Error);
  t.ok(await kvIdle(engine), 'non-streaming: KV back to idle');
  t.ok(engine.stats().generatedTokensTotal - before2 < 220, 'the request stopped before its 220 tokens');
});

t.test('/flush_cache: 400 while a request runs, 200 when idle', async (t) => {
  const controller = new AbortController();
  const res = await fetch(`${url}/generate`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ text: 'Occupy the engine', stream: true, sampling_params: { ...greedy(220), ignore_eos: true } }),
    signal: controller.signal,
  });
  await res.body!.getReader().read();
  const busy = await fetch(`${url}/flush_cache`, { method: 'POST' });
  t.equal(busy.status, 400);
  t.match(await busy.json(), { error: { message: /in flight/ } });
  controller.abort();
  t.ok(await kvIdle(engine));
  const ok = await fetch(`${url}/flush_cache`);
  t.equal(ok.status, 200);
  t.equal(engine.stats().slotsUsed, 0, 'the radix cache is empty');
});

t.test('/metrics uses SGLang names', async (t) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const name of ['prompt_tokens_total', 'generation_tokens_total', 'time_to_first_token_seconds', 'time_per_output_token_seconds', 'e2e_request_latency_seconds', 'num_running_reqs', 'num_queue_reqs', 'token_usage', 'cache_hit_rate']) {
    t.match(text, new RegExp(`^sglang:${name}`, 'm'), name);
  }
  t.match(text, /^sglang:generation_tokens_total\{model_name="qwen2-fixture"\} [1-9]/m);
});

t.test('the port answers while the model loads; generation waits for it', async (t) => {
  let fail!: (err: Error) => void;
  const loading = createArborServer({ engine: new Promise((_, reject) => (fail = reject)), servedModelName: 'later' });
  const { port } = await loading.listen('127.0.0.1', 0);
  const base = `http://127.0.0.1:${port}`;
  t.equal((await fetch(`${base}/health`)).status, 200, '/health is up at once');
  const gen = await postJson(`${base}/generate`, { text: 'hi' });
  t.same(gen, { status: 503, body: { error: { message: 'model is loading' } } });
  t.equal((await postJson(`${base}/v1/chat/completions`, { messages: [] })).status, 503);
  t.equal((await fetch(`${base}/v1/models`)).status, 200, '/v1/models needs no model');
  t.match(await (await fetch(`${base}/get_server_info`)).json(), { status: 'loading' });
  fail(new Error('no such model'));
  await new Promise((r) => setImmediate(r));
  t.match(await postJson(`${base}/generate`, { text: 'hi' }), { status: 503, body: { error: { message: /model failed to load: no such model/ } } });
  t.equal((await fetch(`${base}/health`)).status, 503);
  await loading.close();
});

t.test('graceful shutdown lets an in-flight stream finish', async (t) => {
  const res = await fetch(`${url}/generate`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ text: 'Finish me first', stream: true, sampling_params: { ...greedy(40), ignore_eos: true } }),
  });
  const closed = arbor.close();
  const events = await sseData(res);
  t.equal(events.at(-1), '[DONE]');
  t.same((events.at(-2) as Native).meta_info.finish_reason, { type: 'length', length: 40 });
  await closed;
  t.notOk(engine.stats().healthy, 'the engine is closed');
  await t.rejects(fetch(`${url}/health`), 'the port is closed');
});
