import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fixtureEngine, idle, tokenIds } from '../helpers/engine.js';

t.test('a script that never calls close() exits once its work is done', async (t) => {
  const script = fileURLToPath(new URL('../helpers/exit-without-close.ts', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const started = Date.now();
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('still running after 60 s');
    }, 60_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c ?? 'killed');
    });
  });
  t.equal(code, 0, `exit code (after ${Date.now() - started} ms)`);
  t.match(out, /generated 4/);
});

t.test('close(): one shared promise; afterwards calls say the engine is closed and stats are at rest', async (t) => {
  const engine = await fixtureEngine('qwen2');
  const inFlight = Array.from({ length: 60 }, (_, i) => engine.generate({ inputIds: tokenIds(i, 6), maxTokens: 200, ignoreEos: true }).catch((e: Error) => e));
  while (engine.stats().running < 20) await new Promise((r) => setTimeout(r, 5));
  const first = engine.close();
  let firstDone = false;
  void first.then(() => (firstDone = true));
  const second = engine.close();
  t.equal(second, first, 'a second close() returns the first one’s promise');
  await second;
  t.ok(firstDone, 'the second close() resolves only when the first has finished');
  const rejected = await Promise.all(inFlight);
  t.ok(rejected.every((e) => e instanceof Error && e.name === 'EngineStateError'), 'requests in flight were rejected');
  t.match(engine.stats(), { running: 0, queued: 0, healthy: false }, 'stats after close');
  await t.rejects(engine.tokenize(['a']), { name: 'EngineStateError', state: 'closed', message: /tokenize after close/ });
  await t.rejects(engine.detokenize([[1]]), { name: 'EngineStateError', state: 'closed', message: /detokenize after close/ });
  await t.rejects(engine.generate({ inputIds: [1] }), { name: 'EngineStateError', state: 'closed' });
  await t.rejects(engine.flushCache(), { name: 'EngineStateError', state: 'closed' });
});

t.test('stats() count nothing running or queued as soon as the last request has resolved', async (t) => {
  const engine = await fixtureEngine('qwen2');
  t.teardown(() => engine.close());
  for (let round = 0; round < 6; round++) {
    // Odd rounds abort every request while most still wait: the scheduler answers those at once.
    const ac = new AbortController();
    const all = Promise.all(
      Array.from({ length: 100 }, (_, i) => engine.generate({ inputIds: tokenIds(round * 100 + i, 4), maxTokens: 30, ignoreEos: true, signal: ac.signal })),
    );
    if (round % 2 === 1) {
      while (engine.stats().running === 0) await new Promise((r) => setImmediate(r));
      ac.abort();
    }
    await all;
    const s = engine.stats();
    t.same([s.running, s.queued], [0, 0], `round ${round}: running ${s.running}, queued ${s.queued}`);
  }
});

t.test('an abort ends a request with finishReason abort, whether it came before the start or during the run', async (t) => {
  const engine = await fixtureEngine('qwen2');
  t.teardown(() => engine.close());
  const before = await engine.generate({ inputIds: [1, 2, 3], maxTokens: 50, signal: AbortSignal.abort() });
  t.match(before, { text: '', tokenIds: [], finishReason: 'abort', usage: { promptTokens: 3, completionTokens: 0 } }, 'aborted before it started');
  const ac = new AbortController();
  const during = engine.generate({ inputIds: [4, 5, 6], maxTokens: 200, ignoreEos: true, signal: ac.signal });
  while (engine.stats().generatedTokensTotal === 0) await new Promise((r) => setTimeout(r, 2));
  ac.abort();
  t.match(await during, { finishReason: 'abort' }, 'aborted while running');
  const chunks = [];
  for await (const c of engine.stream({ inputIds: [7], signal: AbortSignal.abort() })) chunks.push(c);
  t.match(chunks, [{ finishReason: 'abort' }], 'a stream aborted before it started yields one abort chunk');
  await idle(engine);
  t.equal(engine.stats().slotsUsed, engine.stats().slotsEvictable, 'no slots held');
});

t.test('contextLength beyond the model’s max_position_embeddings is refused, naming the option', async (t) => {
  await t.rejects(fixtureEngine('qwen2', { contextLength: 257 }), { name: 'RequestError', field: 'contextLength', message: /max_position_embeddings \(256\)/ });
  const ok = await fixtureEngine('qwen2', { contextLength: 256 });
  t.equal(ok.options.contextLength, 256);
  await ok.close();
});
