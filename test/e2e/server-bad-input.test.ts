import t from 'tap';
import { kvIdle, startTestServer } from '../helpers/server.js';

const KEY = 'secret-key';
const MAX_BODY = 4096;
const { url, engine, arbor } = await startTestServer({ apiKey: KEY, maxBodyBytes: MAX_BODY });
t.teardown(() => arbor.close());
const auth = { Authorization: `Bearer ${KEY}` };
const jsonAuth = { ...auth, 'Content-Type': 'application/json' };

interface Case {
  /** Default POST. */
  method?: string;
  path: string;
  /** An object is sent as JSON, a string as it is. */
  body?: unknown;
  status: number;
  message: RegExp;
}

const user = (content: unknown) => ({ messages: [{ role: 'user', content }] });
const longIds = new Array(300).fill(5);

const generate = (body: unknown, message: RegExp): Case => ({ path: '/generate', body, status: 400, message });
const sp = (params: object, message: RegExp): Case => generate({ text: 'hi', sampling_params: params }, message);
const completion = (body: object, message: RegExp): Case => ({ path: '/v1/completions', body: { model: 'm', prompt: 'hi', ...body }, status: 400, message });
const chat = (body: object, message: RegExp): Case => ({ path: '/v1/chat/completions', body: { model: 'm', ...user('hi'), ...body }, status: 400, message });

const cases: Case[] = [
  // Bodies that are not a JSON object.
  generate('not json', /^body: not valid JSON/),
  generate('', /^body: must be a JSON object/),
  generate([], /^body: must be a JSON object/),
  { path: '/v1/chat/completions', body: '{"messages": [', status: 400, message: /^body: not valid JSON/ },
  { path: '/v1/completions', body: 'null', status: 400, message: /^body: must be a JSON object/ },
  // /generate inputs.
  generate({}, /^text: give exactly one of "text" and "input_ids"/),
  generate({ text: 'a', input_ids: [1] }, /^text: give exactly one/),
  generate({ text: 5 }, /^text: must be a string/),
  generate({ text: [] }, /^text: must not be an empty list/),
  generate({ text: ['a', 3] }, /^text\[1\]: must be a string/),
  generate({ text: '' }, /^text: encodes to no tokens/),
  generate({ input_ids: 'abc' }, /^input_ids: must be a non-empty list/),
  generate({ input_ids: [1, -2] }, /^input_ids\[1\]: must be >= 0/),
  generate({ input_ids: [1, 2.5] }, /^input_ids\[1\]: must be an integer/),
  generate({ input_ids: [1, 99999] }, /^input_ids\[1\]: must be <= 511/),
  generate({ input_ids: [[1], [2, 'x']] }, /^input_ids\[1\]\[1\]: must be a finite number/),
  generate({ input_ids: longIds }, /^input_ids: has 300 tokens; the context length is 256/),
  generate({ text: ['a', 'b'], rid: 'same' }, /^rid: must be a list with one id per input/),
  generate({ text: ['a', 'b'], rid: ['x'] }, /^rid: must have one entry per input \(2\)/),
  generate({ text: ['a', 'b'], sampling_params: [{}, {}, {}] }, /^sampling_params: must have one entry per input/),
  generate({ text: 'hi', return_logprob: 'yes' }, /^return_logprob: must be true or false/),
  generate({ text: 'hi', logprob_start_len: -2 }, /^logprob_start_len: must be >= -1/),
  generate({ text: 'hi', return_logprob: true, logprob_start_len: 100 }, /^logprob_start_len: must be below the prompt length/),
  generate({ text: 'hi', top_logprobs_num: 50 }, /^top_logprobs_num: must be <= 20/),
  generate({ text: 'hi', stream: 1 }, /^stream: must be true or false/),
  // /generate sampling_params.
  sp('x' as unknown as object, /^sampling_params: must be a JSON object/),
  sp({ temperature: -1 }, /^sampling_params\.temperature: must be >= 0/),
  sp({ temperature: 'hot' }, /^sampling_params\.temperature: must be a finite number/),
  sp({ top_p: 0 }, /^sampling_params\.top_p: must be > 0/),
  sp({ top_k: 0 }, /^sampling_params\.top_k: must be -1/),
  sp({ min_p: 2 }, /^sampling_params\.min_p: must be <= 1/),
  sp({ max_new_tokens: -1 }, /^sampling_params\.max_new_tokens: must be >= 0/),
  sp({ max_new_tokens: 1.5 }, /^sampling_params\.max_new_tokens: must be an integer/),
  sp({ min_new_tokens: 'x' }, /^sampling_params\.min_new_tokens/),
  sp({ frequency_penalty: 3 }, /^sampling_params\.frequency_penalty: must be <= 2/),
  sp({ presence_penalty: -3 }, /^sampling_params\.presence_penalty: must be >= -2/),
  sp({ repetition_penalty: 0 }, /^sampling_params\.repetition_penalty: must be >= 1\.17\d*e-38/),
  sp({ repetition_penalty: 1e-323 }, /^sampling_params\.repetition_penalty: must be >= /),
  completion({ repetition_penalty: 1e-323 }, /^repetition_penalty: must be >= /),
  completion({ repetition_penalty: 3 }, /^repetition_penalty: must be <= 2/),
  sp({ stop: [''] }, /^sampling_params\.stop\[0\]: must be a non-empty string/),
  sp({ stop: 5 }, /^sampling_params\.stop: must be a string or a list/),
  sp({ stop_token_ids: [600] }, /^sampling_params\.stop_token_ids\[0\]: must be <= 511/),
  sp({ logit_bias: { abc: 1 } }, /^sampling_params\.logit_bias\.abc: key must be a token id/),
  sp({ logit_bias: { 5: 500 } }, /^sampling_params\.logit_bias\.5: must be <= 100/),
  sp({ regex: 'a+' }, /^sampling_params\.regex: constrained decoding is not available/),
  sp({ regex: 'a+', json_schema: '{}' }, /^sampling_params\.json_schema: at most one of regex, json_schema, ebnf/),
  sp({ n: 0 }, /^sampling_params\.n: must be >= 1/),
  // Found by the fuzz suite: these reached the engine, whose errors named its own fields (minTokens, seed).
  sp({ max_new_tokens: 1, min_new_tokens: 5 }, /^sampling_params\.min_new_tokens: must be <= the output limit \(1\)/),
  sp({ min_new_tokens: 200 }, /^sampling_params\.min_new_tokens: must be <= the output limit \(128\)/),
  sp({ seed: 2 ** 53 }, /^sampling_params\.seed: must be an integer of at most 9007199254740991 in magnitude/),
  sp({ max_new_tokens: 1e300 }, /^sampling_params\.max_new_tokens: must be an integer of at most/),
  sp({ ignore_eos: 'yes' }, /^sampling_params\.ignore_eos: must be true or false/),
  sp({ seed: -1 }, /^sampling_params\.seed: must be >= 0/),
  { path: '/generate', body: { text: ['a', 'b'], sampling_params: [{}, { top_p: 9 }] }, status: 400, message: /^sampling_params\[1\]\.top_p/ },
  // /v1/completions.
  { path: '/v1/completions', body: { model: 'm' }, status: 400, message: /^prompt: must be a string, a list of strings/ },
  completion({ prompt: [] }, /^prompt: must be a string/),
  completion({ prompt: [1, 'a'] }, /^prompt\[1\]: must be a finite number/),
  completion({ prompt: [[1, 2], 5] }, /^prompt\[1\]: must be a string or a list of token ids/),
  completion({ prompt: longIds }, /^prompt: has 300 tokens/),
  completion({ prompt: 'word '.repeat(400) }, /^prompt: has \d+ tokens; (at most 255 fit \(context length 256|the context length is 256)/),
  completion({ model: 5 }, /^model: must be a string/),
  completion({ max_tokens: -1 }, /^max_tokens: must be >= 0/),
  completion({ temperature: 3 }, /^temperature: must be <= 2/),
  completion({ top_p: 1.5 }, /^top_p: must be <= 1/),
  completion({ n: 0 }, /^n: must be >= 1/),
  completion({ n: 1000 }, /^n: must be <= 128/),
  completion({ logprobs: 50 }, /^logprobs: must be <= 20/),
  completion({ logprobs: true }, /^logprobs: must be a finite number/),
  completion({ echo: true }, /^echo: echoing the prompt is not supported/),
  completion({ suffix: 'x' }, /^suffix:/),
  completion({ best_of: 3 }, /^best_of: must equal n/),
  completion({ stream_options: 'x' }, /^stream_options: must be a JSON object/),
  completion({ response_format: { type: 'json_object' } }, /^response_format: only/),
  completion({ logit_bias: { 1: 200 } }, /^logit_bias\.1: must be <= 100/),
  completion({ stop: [5] }, /^stop\[0\]: must be a non-empty string/),
  completion({ seed: 'x' }, /^seed: must be a finite number/),
  completion({ presence_penalty: 3 }, /^presence_penalty: must be <= 2/),
  completion({ frequency_penalty: -3 }, /^frequency_penalty: must be >= -2/),
  completion({ top_k: 0 }, /^top_k: must be -1/),
  completion({ min_tokens: 17 }, /^min_tokens: must be <= the output limit \(16\)/),
  completion({ max_tokens: 1e300 }, /^max_tokens: must be an integer of at most/),
  completion({ min_p: -1 }, /^min_p: must be >= 0/),
  completion({ stream: 'yes' }, /^stream: must be true or false/),
  // /v1/chat/completions.
  { path: '/v1/chat/completions', body: { model: 'm' }, status: 400, message: /^messages: must be a non-empty list/ },
  chat({ messages: [] }, /^messages: must be a non-empty list/),
  chat({ messages: 'hi' }, /^messages: must be a non-empty list/),
  chat({ messages: [5] }, /^messages\[0\]: must be a JSON object/),
  chat({ messages: [{ role: 'wizard', content: 'x' }] }, /^messages\[0\]\.role: must be one of system, developer, user, assistant, tool/),
  chat({ messages: [{ content: 'x' }] }, /^messages\[0\]\.role/),
  chat({ messages: [{ role: 'user' }] }, /^messages\[0\]\.content: must be a string or a list/),
  chat(user(5), /^messages\[0\]\.content: must be a string or a list/),
  chat(user([{ type: 'image_url', image_url: { url: 'x' } }]), /^messages\[0\]\.content\[0\]\.type: only "text" parts/),
  chat(user([{ type: 'text', text: 5 }]), /^messages\[0\]\.content\[0\]\.text: must be a string/),
  chat({ messages: [{ role: 'assistant', content: null, tool_calls: [] }] }, /^messages\[0\]\.tool_calls: tool calling is not supported/),
  chat(user('word '.repeat(400)), /^messages: has \d+ tokens; the context length is 256/),
  chat({ top_logprobs: 3 }, /^top_logprobs: requires "logprobs": true/),
  chat({ logprobs: true, top_logprobs: 30 }, /^top_logprobs: must be <= 20/),
  chat({ logprobs: 'yes' }, /^logprobs: must be true or false/),
  chat({ tools: [{ type: 'function', function: { name: 'f' } }] }, /^tools: tool calling is not supported/),
  chat({ max_completion_tokens: -5 }, /^max_completion_tokens: must be >= 0/),
  chat({ max_tokens: 1, min_tokens: 2 }, /^min_tokens: must be <= the output limit \(1\)/),
  chat({ temperature: null, top_p: null, stream: 'yes' }, /^stream: must be true or false/),
  // Routes and methods.
  { method: 'GET', path: '/nope', status: 404, message: /^no route for \/nope/ },
  { method: 'GET', path: '/metrics', status: 404, message: /^no route for \/metrics/ },
  { method: 'GET', path: '/generate', status: 405, message: /^\/generate accepts POST, PUT, not GET/ },
  { method: 'DELETE', path: '/v1/models', status: 405, message: /accepts GET, HEAD, not DELETE/ },
  { method: 'POST', path: '/get_model_info', status: 405, message: /accepts GET/ },
  { method: 'PUT', path: '/flush_cache', status: 405, message: /accepts GET, POST/ },
];

t.test('malformed requests get the right status and an error naming the field', async (t) => {
  for (const c of cases) {
    const method = c.method ?? 'POST';
    const body = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    const init: RequestInit = { method, headers: { ...auth, 'Content-Type': 'application/json' } };
    if (body !== undefined) init.body = body;
    const res = await fetch(`${url}${c.path}`, init);
    const label = `${method} ${c.path} ${body?.slice(0, 80) ?? ''}`;
    t.equal(res.status, c.status, label);
    const json = (await res.json()) as { error: { message: string } };
    t.same(Object.keys(json), ['error'], `${label}: the error shape`);
    t.same(Object.keys(json.error), ['message']);
    t.match(json.error.message, c.message, label);
  }
});

t.test('the API key is checked (Bearer, constant time) except on /health', async (t) => {
  for (const path of ['/v1/models', '/get_model_info', '/get_server_info']) {
    const none = await fetch(`${url}${path}`);
    t.equal(none.status, 401, `${path} without a key`);
    t.match(await none.json(), { error: { message: /API key/ } });
    t.equal((await fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${KEY}x` } })).status, 401, `${path} with a wrong key`);
    t.equal((await fetch(`${url}${path}`, { headers: { Authorization: KEY } })).status, 401, `${path} without "Bearer"`);
    t.equal((await fetch(`${url}${path}`, { headers: { Authorization: `bearer ${KEY}` } })).status, 200, `${path} with the key`);
  }
  const gen = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'hi' }) });
  t.equal(gen.status, 401, 'generation needs the key too');
  t.equal((await fetch(`${url}/health`)).status, 200, '/health needs no key');
});

t.test('a body over --max-body-bytes gets 413, declared or streamed', async (t) => {
  const big = JSON.stringify({ text: 'x'.repeat(MAX_BODY) });
  const declared = await fetch(`${url}/generate`, { method: 'POST', headers: jsonAuth, body: big });
  t.equal(declared.status, 413);
  t.match(await declared.json(), { error: { message: /^body: larger than the limit of 4096 bytes/ } });

  const chunks = [big.slice(0, 3000), big.slice(3000)];
  const streamed = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: jsonAuth,
    body: new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    }),
    duplex: 'half',
  } as RequestInit);
  t.equal(streamed.status, 413, 'chunked upload without Content-Length');
});

t.test('after all that the engine is idle and still serves', async (t) => {
  t.ok(await kvIdle(engine), 'nothing running or queued; KV holds only evictable cache');
  const s = engine.stats();
  t.match(s, { running: 0, queued: 0, healthy: true });
  const ok = await fetch(`${url}/generate`, { method: 'POST', headers: jsonAuth, body: JSON.stringify({ text: 'still alive', sampling_params: { max_new_tokens: 3 } }) });
  t.equal(ok.status, 200);
  t.match(await ok.json(), { meta_info: { completion_tokens: Number } });
});
