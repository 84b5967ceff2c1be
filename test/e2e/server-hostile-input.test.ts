import t from 'tap';
import OpenAI from 'openai';
import { RequestError } from '../../src/engine/errors.js';
import { kvIdle, startTestServer } from '../helpers/server.js';

// Issue 12, items 1 and 2: nesting depth and JavaScript built-in names must never reach a 500 or
// a lookup on Object.prototype.
const { url, engine, arbor } = await startTestServer();
t.teardown(() => arbor.close());
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });

async function post(path: string, body: string): Promise<{ status: number; message: string }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  const json = (await res.json()) as { error?: { message: string } };
  return { status: res.status, message: json.error?.message ?? '' };
}

const BUILTIN_NAMES = ['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty', 'isPrototypeOf'];

t.test('malformed bodies get a 400 naming the field at any nesting depth', async (t) => {
  for (const depth of [5_000, 100_000]) {
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    const deepObject = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const cases: [string, string, RegExp][] = [
      ['/generate', nested, /^body: must be a JSON object \(got \[\[\[/],
      ['/generate', `{"text": ${nested}}`, /^text\[0\]: must be a string/],
      ['/generate', `{"input_ids": ${nested}}`, /^input_ids\[0\]\[0\]: must be a finite number/],
      ['/generate', `{"text": "hi", "sampling_params": {"stop": ${nested}}}`, /^sampling_params\.stop\[0\]: must be a non-empty string/],
      ['/generate', `{"text": "hi", "sampling_params": {"temperature": ${deepObject}}}`, /^sampling_params\.temperature: must be a finite number/],
      ['/generate', `{"text": "hi", "sampling_params": {"logit_bias": {"1": ${nested}}}}`, /^sampling_params\.logit_bias\.1: must be a finite number/],
      ['/generate', '['.repeat(depth), /^body: not valid JSON/],
      ['/v1/completions', nested, /^body: must be a JSON object/],
      ['/v1/completions', `{"prompt": ${nested}}`, /^prompt\[0\]\[0\]: must be a finite number/],
      ['/v1/completions', `{"prompt": "hi", "stop": ${nested}}`, /^stop\[0\]: must be a non-empty string/],
      ['/v1/completions', `{"prompt": "hi", "max_tokens": ${deepObject}}`, /^max_tokens: must be a finite number/],
      ['/v1/chat/completions', `{"messages": ${nested}}`, /^messages\[0\]: must be a JSON object/],
      ['/v1/chat/completions', `{"messages": [{"role": "user", "content": ${nested}}]}`, /^messages\[0\]\.content\[0\]: must be a JSON object/],
      ['/v1/chat/completions', `{"messages": [{"role": ${nested}, "content": "hi"}]}`, /^messages\[0\]\.role: must be one of/],
      ['/v1/chat/completions', `{"messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": ${deepObject}}}`, /^stream_options\.include_usage: must be true or false/],
      ['/v1/chat/completions', `{"messages": [${'{"a":'.repeat(depth)}`, /^body: not valid JSON/],
    ];
    for (const [path, body, message] of cases) {
      const r = await post(path, body);
      const label = `depth ${depth}: ${path} ${body.slice(0, 40)}`;
      t.equal(r.status, 400, label);
      t.match(r.message, message, label);
      t.ok(r.message.length < 300, `${label}: the message quotes a short preview (${r.message.length} chars)`);
    }
  }
});

t.test('chat roles named after JavaScript built-ins are refused (server and library)', async (t) => {
  for (const role of BUILTIN_NAMES) {
    const body = { messages: [{ role, content: 'hi' }], max_tokens: 1 };
    const err = await client.chat.completions.create(body as never).catch((e: unknown) => e);
    t.type(err, OpenAI.BadRequestError, `"${role}": openai client gets a 400`);
    t.match((err as InstanceType<typeof OpenAI.BadRequestError>).status, 400);
    t.match((err as Error).message, /messages\[0\]\.role: must be one of system, developer, user, assistant, tool/, `"${role}": named`);

    const raw = await post('/v1/chat/completions', JSON.stringify(body));
    t.equal(raw.status, 400, `"${role}" as raw JSON`);

    const lib = await engine.chat.completions.create(body).catch((e: unknown) => e);
    t.type(lib, RequestError, `"${role}": engine.chat rejects`);
    t.equal((lib as RequestError).field, 'messages[0].role');
  }
});

t.test('built-in names as keys and values elsewhere are plain data', async (t) => {
  for (const name of BUILTIN_NAMES) {
    // logit_bias keys must be token ids, whatever Object.prototype has.
    const bias = await post('/v1/completions', `{"prompt": "hi", "max_tokens": 1, "logit_bias": {"${name}": 1}}`);
    t.equal(bias.status, 400, `logit_bias key ${name}`);
    t.match(bias.message, new RegExp(`^logit_bias\\.${name}: key must be a token id`));
    const nativeBias = await post('/generate', `{"text": "hi", "sampling_params": {"logit_bias": {"${name}": 1}}}`);
    t.match(nativeBias, { status: 400, message: new RegExp(`^sampling_params\\.logit_bias\\.${name}: key must be a token id`) });

    // A stop string is a string, even when it is "constructor".
    const stop = await post('/generate', JSON.stringify({ text: 'hi', sampling_params: { max_new_tokens: 2, stop: [name] } }));
    t.equal(stop.status, 200, `stop string ${name}`);

    // Unknown keys are ignored — also when they shadow Object.prototype members.
    const shadow = await post('/generate', `{"text": "hi", "${name}": {"text": 5}, "sampling_params": {"max_new_tokens": 1, "${name}": {"max_new_tokens": -1}}}`);
    t.equal(shadow.status, 200, `unknown key ${name} is ignored`);
    const chatShadow = await post('/v1/chat/completions', `{"messages": [{"role": "user", "content": "hi", "${name}": 1}], "max_tokens": 1, "${name}": 1}`);
    t.equal(chatShadow.status, 200, `chat: unknown key ${name} is ignored`);

    // Tool names never reach a table: tools are refused as a whole.
    const tools = await post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name } }] }));
    t.match(tools, { status: 400, message: /^tools: tool calling is not supported/ }, `tool named ${name}`);

    // Routes are looked up with hasOwn.
    const route = await fetch(`${url}/${name}`);
    t.equal(route.status, 404, `/${name}`);
    await route.arrayBuffer();

    // The library's request-field whitelist is a Set.
    // (A computed key is an own property, also "__proto__".)
    const field = await engine.generate({ prompt: 'hi', [name]: 1 } as never).catch((e: unknown) => e);
    t.match(field, { name: 'RequestError', field: name, message: new RegExp(`^${name}: is not a known request field`) });
  }
  t.equal(({} as Record<string, unknown>)['max_new_tokens'], undefined, 'Object.prototype was not polluted');
});

t.test('library values JSON cannot express (cycles, BigInt) are RequestErrors, not TypeErrors', async (t) => {
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  const cases: [() => Promise<unknown>, string][] = [
    [() => engine.chat.completions.create({ messages: [{ role: 'user', content: cyclic }] }), 'messages[0].content[0]'],
    [() => engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 10n }), 'max_tokens'],
    [() => engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], logit_bias: { 5: 1n } }), 'logit_bias.5'],
    [() => engine.generate({ prompt: 'hi', maxTokens: 10n as never }), 'maxTokens'],
    [() => engine.generate({ prompt: 'hi', logitBias: { 5: 1n as never } }), 'logitBias[5]'],
    [() => engine.generate({ prompt: 'hi', temperature: cyclic as never }), 'temperature'],
  ];
  for (const [call, field] of cases) {
    const err = await call().catch((e: unknown) => e);
    t.type(err, RequestError, field);
    t.equal((err as RequestError).field, field);
  }
});

t.test('a repetition penalty that overflows the logits is refused; the engine survives (found by the fuzz suite)', async (t) => {
  // A denormal penalty divided the logits of seen tokens to +Infinity, and the scheduler worker
  // died of "logits row has no finite maximum", taking every request with it.
  for (const [path, body, message] of [
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, repetition_penalty: 1e-323 }, /^repetition_penalty: must be >= /],
    ['/v1/completions', { prompt: 'hi', max_tokens: 2, repetition_penalty: 1e300 }, /^repetition_penalty: must be <= 2/],
    ['/generate', { text: 'hi', sampling_params: { max_new_tokens: 2, repetition_penalty: 5e-324 } }, /^sampling_params\.repetition_penalty: must be >= /],
  ] as const) {
    const r = await post(path, JSON.stringify(body));
    t.match(r, { status: 400, message }, path);
  }
  for (const repetitionPenalty of [1e-323, 1e300]) {
    const err = await engine.generate({ prompt: 'hi', maxTokens: 2, repetitionPenalty }).catch((e: unknown) => e);
    t.match(err, { name: 'RequestError', field: 'repetitionPenalty' }, `library: ${repetitionPenalty}`);
  }
  t.ok(engine.stats().healthy, 'the engine is still healthy');
  t.equal((await post('/generate', JSON.stringify({ text: 'hi', sampling_params: { max_new_tokens: 2, repetition_penalty: 2 } }))).status, 200);
});

t.test('afterwards nothing is running and no KV is held', async (t) => {
  t.ok(await kvIdle(engine));
  t.match(engine.stats(), { running: 0, queued: 0, healthy: true });
});
