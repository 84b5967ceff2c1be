import t from 'tap';
import OpenAI from 'openai';
import { postJson, sseData, startTestServer } from '../helpers/server.js';

// Issue 12, item 6: what the real SGLang Python frontend (v0.5.10 on) and plain HTTP clients hit.
const { url, arbor } = await startTestServer();
t.teardown(() => arbor.close());
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
const JSON_ROUTES = ['/generate', '/v1/completions', '/v1/chat/completions'] as const;
const smallest: Record<(typeof JSON_ROUTES)[number], object> = {
  '/generate': { text: 'hi', sampling_params: { max_new_tokens: 1 } },
  '/v1/completions': { prompt: 'hi', max_tokens: 1 },
  '/v1/chat/completions': { messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 },
};

t.test('/model_info and /server_info are /get_model_info and /get_server_info', async (t) => {
  for (const [alias, name] of [['/model_info', '/get_model_info'], ['/server_info', '/get_server_info']]) {
    const a = (await (await fetch(`${url}${alias}`)).json()) as Record<string, unknown>;
    const b = (await (await fetch(`${url}${name}`)).json()) as Record<string, unknown>;
    // internal_states holds live counters; everything else is fixed.
    delete a['internal_states'];
    delete b['internal_states'];
    t.same(a, b, `${alias} answers as ${name}`);
    t.ok(Object.keys(a).length >= 3, `${alias} is not empty`);
  }
});

t.test('HEAD on a GET route answers like GET without a body; other methods name what is allowed', async (t) => {
  for (const path of ['/health', '/health_generate', '/get_model_info', '/model_info', '/get_server_info', '/server_info', '/v1/models', '/flush_cache']) {
    const get = await fetch(`${url}${path}`);
    const getBody = await get.arrayBuffer();
    const head = await fetch(`${url}${path}`, { method: 'HEAD' });
    t.equal(head.status, get.status, `HEAD ${path}: status of GET`);
    t.equal(head.headers.get('content-type'), get.headers.get('content-type'), `HEAD ${path}: content type of GET`);
    t.equal((await head.arrayBuffer()).byteLength, 0, `HEAD ${path}: no body`);
    if (path.endsWith('model_info') || path === '/health') {
      t.equal(head.headers.get('content-length'), String(getBody.byteLength), `HEAD ${path}: the length GET's body has`);
    }
  }
  const headGenerate = await fetch(`${url}/generate`, { method: 'HEAD' });
  t.equal(headGenerate.status, 405, 'HEAD on a POST-only route');
  t.equal(headGenerate.headers.get('allow'), 'POST, PUT');
  const del = await fetch(`${url}/health`, { method: 'DELETE' });
  t.equal(del.status, 405);
  t.equal(del.headers.get('allow'), 'GET, HEAD');
  t.match(await del.json(), { error: { message: '/health accepts GET, HEAD, not DELETE' } });
});

t.test('meta_info.output_token_logprobs_length: the cumulative count of output logprobs', async (t) => {
  const body = { text: 'Count my tokens', return_logprob: true, sampling_params: { max_new_tokens: 6, temperature: 0, ignore_eos: true } };
  const one = await postJson(`${url}/generate`, body);
  t.equal(one.status, 200);
  t.equal(one.body.meta_info.output_token_logprobs_length, 6);
  t.equal(one.body.meta_info.output_token_logprobs.length, 6);

  const res = await fetch(`${url}/generate`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  const events = (await sseData(res)).filter((e): e is { meta_info: Record<string, any> } => typeof e === 'object');
  t.ok(events.length > 1, 'several events');
  let last = 0;
  for (const e of events) {
    t.equal(e.meta_info.output_token_logprobs_length, e.meta_info.output_token_logprobs.length, 'equals the cumulative list');
    t.ok(e.meta_info.output_token_logprobs_length >= last, 'never shrinks');
    last = e.meta_info.output_token_logprobs_length;
  }
  t.equal(last, 6);

  const plain = await postJson(`${url}/generate`, { text: 'hi', sampling_params: { max_new_tokens: 2 } });
  t.notOk('output_token_logprobs_length' in plain.body.meta_info, 'absent without return_logprob, as in SGLang');
});

t.test('stop_regex is refused with a 400 naming it (until constrained decoding exists); empty values pass', async (t) => {
  const cases: [string, object, RegExp][] = [
    ['/generate', { text: 'hi', sampling_params: { stop_regex: '\\d+' } }, /^sampling_params\.stop_regex: is not supported yet/],
    ['/generate', { text: 'hi', sampling_params: { stop_regex: ['a', 'b'] } }, /^sampling_params\.stop_regex: is not supported yet/],
    ['/generate', { text: ['a', 'b'], sampling_params: [{}, { stop_regex: 'x' }] }, /^sampling_params\[1\]\.stop_regex: is not supported yet/],
    ['/generate', { text: 'hi', sampling_params: { stop_regex: 5 } }, /^sampling_params\.stop_regex: must be a string or a list of strings/],
    ['/v1/completions', { prompt: 'hi', stop_regex: 'x' }, /^stop_regex: is not supported yet/],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], stop_regex: ['x'] }, /^stop_regex: is not supported yet/],
  ];
  for (const [path, body, message] of cases) {
    const r = await postJson(`${url}${path}`, body);
    t.equal(r.status, 400, `${path} ${JSON.stringify(body)}`);
    t.match(r.body.error.message, message);
  }
  // What SGLang's frontend sends by default (SglSamplingParams.stop_regex = ()).
  for (const empty of [[], '', null]) {
    const r = await postJson(`${url}/generate`, { text: 'hi', sampling_params: { max_new_tokens: 1, stop_regex: empty } });
    t.equal(r.status, 200, `stop_regex ${JSON.stringify(empty)} is nothing to match`);
  }
  await t.rejects(client.completions.create({ model: 'm', prompt: 'hi', stop_regex: 'x' } as never), { status: 400, message: /stop_regex/ });
});

t.test('a body that is not JSON by its Content-Type gets 415 naming application/json', async (t) => {
  const refused = ['text/plain', 'text/plain;charset=UTF-8', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=utf-16', 'json'];
  const accepted = ['application/json', 'Application/JSON; charset=UTF-8', 'application/json;charset="utf-8"', 'application/vnd.api+json', 'application/x-www-form-urlencoded'];
  for (const path of JSON_ROUTES) {
    const body = JSON.stringify(smallest[path]);
    for (const type of refused) {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': type }, body });
      t.equal(res.status, 415, `${path} ${type}`);
      t.match(await res.json(), { error: { message: /^Content-Type: expected (application\/json|charset utf-8 for application\/json), got / } });
    }
    for (const type of accepted) {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': type }, body });
      t.equal(res.status, 200, `${path} ${type}`);
      await res.arrayBuffer();
    }
    // A byte body makes fetch send no Content-Type at all: read as JSON, as SGLang does.
    const none = await fetch(`${url}${path}`, { method: 'POST', body: new TextEncoder().encode(body) });
    t.equal(none.headers.get('content-type'), 'application/json');
    t.equal(none.status, 200, `${path} without a Content-Type`);
    await none.arrayBuffer();
  }
  const form = await fetch(`${url}/generate`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'text=hi' });
  t.equal(form.status, 400, 'a real form body is still not JSON');
  t.match(await form.json(), { error: { message: /^body: not valid JSON/ } });
});
