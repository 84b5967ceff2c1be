import t, { type Test } from 'tap';
import {
  BackendError,
  EngineBackend,
  program,
  ProgramError,
  RuntimeEndpoint,
  type ChoiceMethod,
  type LangBackend,
  type MetaInfo,
  type ProgramState,
  type SelectMetaInfo,
} from '../../src/lang/index.js';
import { startTestServer } from '../helpers/server.js';

const API_KEY = 'lang-test-key';
const { url, engine, arbor } = await startTestServer({ apiKey: API_KEY });
t.teardown(() => arbor.close());
const local = new EngineBackend(engine);
const remote = new RuntimeEndpoint(url, { apiKey: API_KEY });

/** Runs a program on both backends. */
async function both<A, R>(prog: ReturnType<typeof program<A, R>>, args: A): Promise<[ProgramState<R>, ProgramState<R>]> {
  const a = await prog.run(args, { backend: local });
  const b = await prog.run(args, { backend: remote });
  return [a, b];
}

/** Meta infos agree: same tokens and texts, logprobs within float noise (batches differ). */
function sameMeta(t: Test, a: MetaInfo, b: MetaInfo, what: string): void {
  const round = (x: unknown): unknown =>
    JSON.parse(JSON.stringify(x, (key, v: unknown) => (typeof v === 'number' && key !== 'token' ? Math.round(v * 1e3) / 1e3 : v)));
  const { cachedTokens: _a, ...restA } = a as MetaInfo & { cachedTokens?: number };
  const { cachedTokens: _b, ...restB } = b as MetaInfo & { cachedTokens?: number };
  t.same(round(restB), round(restA), `${what}: same meta info over HTTP (cachedTokens aside: the cache is warm by then)`);
}

t.test('gen with every kind of option: same text and meta over HTTP', async (t) => {
  const prog = program(async (s, args: { topic: string }) => {
    s.append(`Write about ${args.topic}:`);
    await s.gen('a', { maxTokens: 6, temperature: 0, logprobs: true, topLogprobs: 3, promptLogprobsFrom: 1 });
    s.append('\nAnd:');
    await s.gen('b', { maxTokens: 5, temperature: 0.7, topP: 0.9, topK: 20, minP: 0.01, seed: 7, repetitionPenalty: 1.1, ignoreEos: true });
    await s.gen('c', { maxTokens: 8, temperature: 0, stop: [' ', 'e'], minTokens: 1 });
  });
  const [a, b] = await both(prog, { topic: 'rivers' });
  t.equal(b.text(), a.text());
  for (const name of ['a', 'b', 'c']) {
    t.equal(b.get(name), a.get(name), `variable ${name}`);
    sameMeta(t, a.metaInfo(name), b.metaInfo(name), name);
  }
});

const METHODS: ChoiceMethod[] = ['token_length_normalized', 'greedy_token_selection', 'unconditional_likelihood_normalized'];
for (const method of METHODS) {
  t.test(`select ${method}: same choice and scores over HTTP`, async (t) => {
    const prog = program(async (s, args: { question: string }) => {
      s.append(`To answer this question: ${args.question}, I need to use a `);
      await s.select('tool', { choices: ['calculator', 'search engine'], method });
      s.append('. The sky is');
      await s.select('colour', { choices: [' blue', ' blue green', ' grey'], method });
    });
    const [a, b] = await both(prog, { question: 'what is 3 + 4' });
    t.equal(b.text(), a.text());
    for (const name of ['tool', 'colour']) {
      t.equal(b.get(name), a.get(name));
      sameMeta(t, a.metaInfo(name), b.metaInfo(name), name);
    }
    t.equal((b.metaInfo('tool') as SelectMetaInfo).method, method);
  });
}

t.test('roles, fork/join and streaming: same results over HTTP', async (t) => {
  const prog = program(async (s) => {
    await s.system('You answer in one word.');
    await s.user('Pick a fruit.');
    await s.assistant(async (a) => {
      const pieces: string[] = [];
      void a.gen('fruit', { maxTokens: 6, temperature: 0, ignoreEos: true });
      for await (const p of a.stream('fruit')) pieces.push(p);
      return pieces;
    });
    const forks = await s.fork(2);
    await forks.all((c, i) => c.append(` Reason ${i}:`).gen('why', { maxTokens: 4, temperature: 0 }));
    await forks.join('concatenate');
  });
  const [a, b] = await both(prog, undefined);
  t.equal(b.text(), a.text());
  t.same(b.messages(), a.messages());
  t.same(b.getList('why'), a.getList('why'));
  t.equal(a.messages().length, 3);
});

t.test('runBatch over HTTP: input order and the shared prefix cached', async (t) => {
  const shared = 'This preamble is shared by every program of the batch so that the server caches it once.';
  const prog = program(async (s, args: { n: number }) => {
    s.append(`${shared} Item ${args.n}:`);
    await s.gen('x', { maxTokens: 3, temperature: 0 });
  });
  await engine.flushCache();
  const args = [1, 2, 3, 4, 5].map((n) => ({ n }));
  const remoteStates = await prog.runBatch(args, { backend: remote, concurrency: 5, progress: false });
  const sharedTokens = engine.tokenizer.encode(shared).length;
  for (const s of remoteStates) {
    const m = s.metaInfo('x');
    t.ok(m.kind === 'gen' && m.cachedTokens >= sharedTokens - 1, `cached ${m.kind === 'gen' ? m.cachedTokens : 0} tokens`);
  }
  const localStates = await prog.runBatch(args, { backend: local, progress: false });
  t.same(
    remoteStates.map((s) => s.get('x')),
    localStates.map((s) => s.get('x')),
  );
});

t.test('errors over HTTP: typed, naming the field; a bad key is refused', async (t) => {
  const bad = program(async (s) => {
    s.append('x');
    await s.gen('v', { topP: 5 });
  });
  const err = (await bad.run(undefined, { backend: remote }).catch((e: unknown) => e)) as ProgramError;
  t.type(err, ProgramError);
  t.type(err.cause, BackendError);
  t.match((err.cause as BackendError).message, /top_p/);
  t.equal((err.cause as BackendError).status, 400);
  await t.rejects(bad.run(undefined, { backend: local }), { name: 'ProgramError', cause: { name: 'RequestError', field: 'topP' } });

  const wrongKey: LangBackend = new RuntimeEndpoint(url, { apiKey: 'wrong' });
  await t.rejects(program(async (s) => void (await s.append('x').gen('v'))).run(undefined, { backend: wrongKey }), { name: 'ProgramError', cause: { name: 'BackendError', status: 401 } });
  t.throws(() => new RuntimeEndpoint('ftp://host'), { name: 'LangError', field: 'url' });
  const down = new RuntimeEndpoint('http://127.0.0.1:9');
  await t.rejects(down.cachePrefix('x'), { name: 'BackendError', message: /127\.0\.0\.1:9/ });
  const noTemplate = new RuntimeEndpoint(url, { apiKey: API_KEY, tokenizerPath: '/nonexistent/model' });
  await t.rejects(program(async (s) => s.user('hi')).run(undefined, { backend: noTemplate }), { name: 'ProgramError', cause: { name: 'LangError', field: 'tokenizerPath' } });
  t.match(await remote.modelInfo(), { modelPath: engine.modelPath, tokenizerPath: engine.modelPath });
  t.equal(await remote.flushCache(), true);
});
