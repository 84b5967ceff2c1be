import t from 'tap';
import { kvIdle, sseData, startTestServer } from '../helpers/server.js';
import { tokenIds } from '../helpers/engine.js';

type Triple = [number | null, number, string | null];

t.test('500 concurrent streaming requests each give exactly the tokens of their serial run', async (t) => {
  const { url, engine, arbor } = await startTestServer();
  t.teardown(() => arbor.close());
  const N = 500;
  const prompts = Array.from({ length: N }, (_, i) => tokenIds(1000 + i, 4 + (i % 9)));
  const serial: number[][] = [];
  for (const inputIds of prompts) serial.push((await engine.generate({ inputIds, maxTokens: 6, temperature: 0 })).tokenIds);
  const streamed = await Promise.all(
    prompts.map(async (input_ids) => {
      const body = { input_ids, stream: true, return_logprob: true, sampling_params: { max_new_tokens: 6, temperature: 0 } };
      const events = await sseData(await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
      const last = events.at(-2) as { meta_info: { output_token_logprobs: Triple[] } };
      return events.at(-1) === '[DONE]' ? last.meta_info.output_token_logprobs.map(([, id]) => id) : null;
    }),
  );
  const mismatches = streamed.filter((ids, i) => JSON.stringify(ids) !== JSON.stringify(serial[i])).length;
  t.equal(mismatches, 0, `${N} streams sent, ${mismatches} differ from their serial run`);
  t.ok(await kvIdle(engine), 'KV pool back to idle');
});

t.test('an abort storm of 200 clients leaves no slot held', async (t) => {
  const { url, engine, arbor } = await startTestServer({}, { radixCache: false });
  t.teardown(() => arbor.close());
  const N = 200;
  const before = engine.stats();
  const storm = Array.from({ length: N }, async (_, i) => {
    const controller = new AbortController();
    const body = { input_ids: tokenIds(i, 8), stream: i % 2 === 0, sampling_params: { max_new_tokens: 200, ignore_eos: true } };
    const res = fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: controller.signal });
    res.catch(() => undefined);
    // Each client leaves at its own point: at once, after a while (a plain request's answer only
    // comes at the end), or after a few streamed chunks.
    if (i % 4 === 0) return controller.abort();
    if (!body.stream) {
      await new Promise((r) => setTimeout(r, 10 * (i % 20)));
      return controller.abort();
    }
    const reader = (await res).body!.getReader();
    for (let k = 0; k < i % 5; k++) await reader.read();
    controller.abort();
  });
  await Promise.allSettled(storm);
  t.ok(await kvIdle(engine, 10_000), 'nothing running or queued');
  const after = engine.stats();
  t.equal(after.slotsUsed, before.slotsUsed, `${N} clients aborted; slots used ${after.slotsUsed} (baseline ${before.slotsUsed}, leaked ${after.slotsUsed - before.slotsUsed})`);
  t.ok(after.generatedTokensTotal - before.generatedTokensTotal < N * 200, `${after.generatedTokensTotal - before.generatedTokensTotal} of ${N * 200} tokens generated`);
  const ok = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_ids: [1, 2, 3], sampling_params: { max_new_tokens: 3 } }) });
  t.equal(ok.status, 200, 'the server still serves');
});

t.test('a shard worker killed mid-batch fails the batch clearly and the server reports unhealthy', async (t) => {
  const CRASH = 498;
  const { url, engine, arbor } = await startTestServer({}, { tp: 2, faultInjection: { exitOnTokenId: CRASH } } as object);
  t.teardown(() => arbor.close());
  const start = performance.now();
  const batch = fetch(`${url}/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input_ids: Array.from({ length: 20 }, (_, i) => tokenIds(i, 6)), sampling_params: { max_new_tokens: 200, ignore_eos: true } }),
  });
  const streams = Array.from({ length: 10 }, (_, i) =>
    fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_ids: tokenIds(50 + i, 6), stream: true, sampling_params: { max_new_tokens: 200, ignore_eos: true } }) }).then(
      async (res) => (res.status === 200 ? sseData(res) : [await res.json(), `status ${res.status}`]),
    ),
  );
  while (engine.stats().running < 20) await new Promise((r) => setTimeout(r, 5));
  const crash = fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_ids: [CRASH, 1, 2] }) });
  const crashed = await crash;
  t.equal(crashed.status, 503, 'the request in the crashing step: 503');
  t.match(await crashed.json(), { error: { message: /shard \d exited/ } });
  const batchRes = await batch;
  t.equal(batchRes.status, 503, 'the batch in flight: 503');
  t.match(await batchRes.json(), { error: { message: /shard \d exited/ } });
  // A stream that had sent its headers ends with an error event; one still waiting for its first
  // token is answered with a status.
  for (const events of await Promise.all(streams)) {
    t.match(events.slice(-2), [{ error: { message: /shard \d exited/ } }, /^(\[DONE\]|status 503)$/], `a stream in flight: ${events.at(-1)}`);
  }
  t.ok(performance.now() - start < 30_000, `no hang (${(performance.now() - start).toFixed(0)} ms)`);
  t.match(engine.stats(), { healthy: false, error: /shard \d exited/ });
  t.equal((await fetch(`${url}/health_generate`)).status, 503, '/health_generate: 503');
  t.equal((await fetch(`${url}/health`)).status, 503, '/health: 503');
  const later = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_ids: [1, 2] }) });
  t.equal(later.status, 503, 'later requests: 503');
  t.match(await later.json(), { error: { message: /engine failed/ } });
});
