import t from 'tap';
import OpenAI from 'openai';
import { MODEL_NAME, parseBody, sseData, startTestServer } from '../helpers/server.js';

t.test('shutdown past the drain period tells every in-flight client why it was cut short', async (t) => {
  const { url, engine, arbor } = await startTestServer({ drainTimeoutMs: 200 });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
  const long = { max_new_tokens: 240, temperature: 0, ignore_eos: true };
  const post = (path: string, body: object) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const nativeStream = await post('/generate', { text: 'stream me', stream: true, sampling_params: long });
  const nativeEvents = sseData(nativeStream).catch((err: Error) => [err.message]);
  const nativePlain = post('/generate', { text: 'answer me', sampling_params: long }).then(
    async (res) => ({ status: res.status, body: await parseBody(res) }),
    (err: Error) => ({ status: err.message, body: null }),
  );
  const openaiStream = await client.chat.completions.create({ model: MODEL_NAME, messages: [{ role: 'user', content: 'hi' }], max_tokens: 240, stream: true, ignore_eos: true } as never);
  const openaiChunks = (async () => {
    let n = 0;
    for await (const _ of openaiStream as unknown as AsyncIterable<unknown>) n++;
    return n;
  })().catch((err: Error) => err);
  const openaiPlain = client.completions.create({ model: MODEL_NAME, prompt: 'complete me', max_tokens: 240, ignore_eos: true } as never).catch((err: Error) => err);
  while (engine.stats().running < 4) await new Promise((r) => setTimeout(r, 5));

  await arbor.close();

  const events = await nativeEvents;
  t.equal(events.at(-1), '[DONE]', 'native stream: ends with [DONE]');
  t.match(events.at(-2), { error: { message: /the server is shutting down/, code: 503 } }, 'native stream: an error event before it');
  const plain = await nativePlain;
  t.equal(plain.status, 503, 'native non-streaming: 503');
  t.match(plain.body, { error: { message: /the server is shutting down/ } });
  const streamErr = await openaiChunks;
  t.type(streamErr, OpenAI.APIError, 'OpenAI stream: the client raises an APIError');
  t.match((streamErr as Error).message, /the server is shutting down/);
  const plainErr = await openaiPlain;
  t.type(plainErr, OpenAI.APIError, 'OpenAI non-streaming: APIError');
  t.equal((plainErr as InstanceType<typeof OpenAI.APIError>).status, 503);
  t.match((plainErr as Error).message, /the server is shutting down/);
});
