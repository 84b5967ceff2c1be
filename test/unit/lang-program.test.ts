import t from 'tap';
import { LangError, program, ProgramError, setDefaultBackend, type ProgramState } from '../../src/lang/index.js';
import { showProgress } from '../../src/lang/progress.js';
import { MIN_SHARED_PREFIX_CHARS, sharedPrefix } from '../../src/lang/shared-prefix.js';
import { chatml, FakeBackend, sleep } from '../helpers/lang.js';

t.test('operations run in the order issued, awaited or not', async (t) => {
  const backend = new FakeBackend(() => 5);
  const prog = program(async (s, args: { topic: string }) => {
    s.append(`Topic: ${args.topic}`);
    void s.gen('first', { maxTokens: 20 });
    s.append(' then');
    const second = await s.gen('second');
    s.append(' end');
    return second;
  });
  const state = await prog.run({ topic: 'cats' }, { backend });
  t.equal(state.text(), 'Topic: cats<cats> then<then> end');
  t.equal(state.get('first'), '<cats>');
  t.equal(state.returnValue, '<then>', 'run keeps what the program returned');
  t.match(state.metaInfo('second'), { kind: 'gen', completionTokens: 6, finishReason: 'length' });
  t.same(backend.calls.map((c) => c.text), ['Topic: cats', 'Topic: cats<cats> then'], 'each gen sees the text before it');
  t.same(state.names(), ['first', 'second']);
});

t.test('typed errors name what is wrong', async (t) => {
  const backend = new FakeBackend();
  const state = await program(async (s) => {
    s.append('x');
    await s.gen('v');
  }).run(undefined, { backend });
  t.throws(() => state.get('nope'), { name: 'LangError', field: 'nope' });
  t.throws(() => state.metaInfo('nope'), LangError);
  t.throws(() => state.gen('', {}), { name: 'LangError', field: 'gen.name' });
  t.throws(() => state.select('c', { choices: [] }), { name: 'LangError', field: 'select.choices' });
  t.throws(() => state.select('c', { choices: ['a', ''] }), { name: 'LangError', field: 'select.choices[1]' });
  t.throws(() => state.select('c', { choices: ['a'], method: 'best' as never }), { name: 'LangError', field: 'select.method' });
  t.throws(() => state.fork(0), { name: 'LangError', field: 'fork.n' });
  setDefaultBackend(undefined);
  await t.rejects(program(async () => {}).run(undefined), { name: 'LangError', field: 'backend' });
  await t.rejects(program(async () => {}).runBatch([undefined], { backend, concurrency: 0 }), { name: 'LangError', field: 'concurrency' });
  const empty = program(async (s) => void (await s.select('c', { choices: ['a'] })));
  await t.rejects(empty.run(undefined, { backend }), { name: 'ProgramError', cause: { name: 'LangError', field: 'select' } }, 'select needs text before it');
});

t.test('a failed operation skips the rest; run rejects with the partial state', async (t) => {
  const backend = new FakeBackend();
  const prog = program(async (s) => {
    s.append('ok ');
    void s.gen('a');
    s.append(' FAIL');
    void s.gen('b');
    s.append(' never');
  });
  const err = (await prog.run(undefined, { backend }).catch((e: unknown) => e)) as ProgramError;
  t.type(err, ProgramError);
  t.match(err.message, /FAIL in the prompt/);
  t.equal(err.state.text(), 'ok <ok> FAIL', 'what ran before the failure is kept; later operations were skipped');
  t.equal(err.state.get('a'), '<ok>');
  t.notOk(err.state.has('b'));
});

t.test('select picks by the backend scores and appends the choice', async (t) => {
  const backend = new FakeBackend();
  const state = await program(async (s) => {
    s.append('Pick: ');
    await s.select('pick', { choices: ['long one', 'short', 'mid-size'] });
    s.append('.');
    await s.select('u', { choices: ['aa', 'b'], method: 'unconditional_likelihood_normalized' });
  }).run(undefined, { backend });
  t.equal(state.get('pick'), 'short');
  t.equal(state.text(), 'Pick: short.b');
  t.match(state.metaInfo('pick'), { kind: 'select', index: 1, normalizedPromptLogprobs: [-8, -5, -8] });
  t.match(backend.calls[1], { kind: 'score', unconditional: true });
});

t.test('fork shares the prefix (cached once), join gathers in child order', async (t) => {
  const backend = new FakeBackend((text) => (text.endsWith('0:') ? 30 : 1));
  const state = await program(async (s) => {
    s.append('Plan');
    await s.gen('title');
    const forks = await s.fork(3);
    t.equal(forks.length, 3);
    await forks.all((c, i) => c.append(` step ${i}:`).gen('step'));
    t.equal(forks.at(2).text(), 'Plan<Plan> step 2:<2:>', 'a child continues from the parent text');
    t.equal(forks.at(1).get('title'), '<Plan>', 'a child sees the parent variables');
    await forks.join();
    t.equal(s.text(), 'Plan<Plan>', 'gather leaves the parent text alone');
    const again = await s.fork(2);
    await again.all((c, i) => c.append(` alt ${i}`));
    await again.join('concatenate');
  }).run(undefined, { backend });
  t.same(state.getList('step'), ['<0:>', '<1:>', '<2:>'], 'gathered in child order even though child 0 finished last');
  t.throws(() => state.get('step'), { name: 'LangError', field: 'step' }, 'a gathered variable is a list');
  t.equal(state.text(), 'Plan<Plan> alt 0 alt 1', 'concatenate appends each child text in order');
  const prefixCalls = backend.calls.filter((c) => c.kind === 'cachePrefix').map((c) => c.text);
  t.same(prefixCalls, ['Plan<Plan>', 'Plan<Plan>'], 'one prefix request per fork of n > 1');

  const single = new FakeBackend();
  await program(async (s) => {
    s.append('x');
    const [only] = await s.fork(1);
    await only!.gen('y');
  }).run(undefined, { backend: single });
  t.notOk(single.calls.some((c) => c.kind === 'cachePrefix'), 'fork(1) sends no prefix request');
});

t.test('join fails the parent when a child failed', async (t) => {
  const backend = new FakeBackend();
  const err = (await program(async (s) => {
    s.append('go');
    const forks = await s.fork(2);
    await forks.all((c, i) => c.append(i === 1 ? ' FAIL' : ' fine').gen('r')).catch(() => {});
    await forks.join();
  })
    .run(undefined, { backend })
    .catch((e: unknown) => e)) as ProgramError;
  t.type(err, ProgramError);
  t.match(err.message, /FAIL/);
});

t.test('role blocks use the chat template and record the turns', async (t) => {
  const backend = new FakeBackend();
  const state = await program(async (s) => {
    await s.system('Be brief.');
    await s.user('Say hi');
    await s.assistant(async (a) => {
      await a.gen('reply');
    });
  }).run(undefined, { backend });
  const turns = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Say hi' },
    { role: 'assistant', content: '<assistant>' },
  ] as const;
  t.equal(state.text(), chatml(turns));
  t.same(state.messages(), turns);
  t.equal((backend.calls[0] as { text: string }).text, chatml(turns.slice(0, 2)) + '<|im_start|>assistant\n', 'gen runs after the assistant opening');

  const unawaited = await program(async (s) => {
    void s.user(async (u) => {
      await u.gen('late');
      await sleep(20);
      u.append(' and more');
    });
  }).run(undefined, { backend });
  t.equal(unawaited.messages().length, 1, 'run waits for a role block the program did not await');
  t.match(unawaited.text(), /and more<\|im_end\|>\n$/);

  const nested = program(async (s) => s.user((u) => u.assistant('no')));
  await t.rejects(nested.run(undefined, { backend }), { name: 'ProgramError', cause: { name: 'LangError', field: 'assistant' } }, 'turns do not nest');
});

t.test('stream yields a variable piece by piece while it is generated', async (t) => {
  const backend = new FakeBackend();
  const pieces: string[] = [];
  const state = await program(async (s) => {
    s.append('stream this');
    void s.gen('v');
    for await (const piece of s.stream('v')) pieces.push(piece);
  }).run(undefined, { backend });
  t.same(pieces, ['<', 't', 'h', 'i', 's', '>']);
  t.ok((backend.calls[0] as { streamed: boolean }).streamed, 'the backend was asked to stream');
  const again: string[] = [];
  for await (const piece of state.stream('v')) again.push(piece);
  t.same(again, ['<this>'], 'a finished variable comes whole');

  const failing = program(async (s) => {
    s.append('FAIL');
    void s.gen('v');
    for await (const _ of s.stream('v')) void _;
  });
  await t.rejects(failing.run(undefined, { backend }), { message: /FAIL/ }, 'the stream throws the gen error');
  const silent = await program(async (s) => {
    s.append('x');
    const never: string[] = [];
    const reading = (async () => {
      for await (const p of s.stream('unset')) never.push(p);
    })();
    await s.gen('other');
    return { reading, never };
  }).run(undefined, { backend });
  await silent.returnValue!.reading;
  t.same(silent.returnValue!.never, [], 'a variable never generated ends its stream when the program ends');
});

t.test('runBatch: input order, error isolation, concurrency, no bar off a TTY', async (t) => {
  const backend = new FakeBackend((text) => (text.length * 7) % 23);
  const prog = program(async (s, args: { word: string }) => {
    s.append(`word ${args.word}`);
    return s.gen('w');
  });
  const words = ['a', 'bb', 'FAIL', 'dddd', 'e', 'ffffff', 'g', 'hh'];
  const states = await prog.runBatch(
    words.map((word) => ({ word })),
    { backend, concurrency: 3, progress: true },
  );
  t.equal(states.length, words.length);
  states.forEach((s: ProgramState<string>, i) => {
    if (words[i] === 'FAIL') t.match(s.error, { message: /FAIL/ }, 'the failing program carries its error');
    else {
      t.equal(s.error, undefined);
      t.equal(s.get('w'), `<${words[i]}>`, `result ${i} in input order`);
      t.equal(s.returnValue, `<${words[i]}>`);
    }
  });
  t.ok(backend.maxInFlight <= 3 && backend.maxInFlight >= 2, `at most 3 programs at once (saw ${backend.maxInFlight})`);
  t.notOk(showProgress(true, { isTTY: false }), 'no bar when stderr is not a terminal');
  t.notOk(showProgress(false, { isTTY: true }), 'progress: false never draws');
  t.ok(showProgress(undefined, { isTTY: true }));
  t.same(await prog.runBatch([], { backend }), []);
});

t.test('runBatch prefills the text its first wave shares, once, before anything else', async (t) => {
  const shared = 'You are a careful assistant. Read the question and answer it in one word only.';
  t.ok(shared.length >= MIN_SHARED_PREFIX_CHARS);
  const backend = new FakeBackend(() => 2);
  const prog = program(async (s, args: { q: string }) => {
    await sleep(args.q.length); // arrive at different times
    s.append(`${shared} Question: ${args.q}`);
    await s.gen('a');
  });
  await prog.runBatch(
    ['why', 'how long', 'who', 'when', 'where exactly'].map((q) => ({ q })),
    { backend, concurrency: 4 },
  );
  t.same(backend.calls[0], { kind: 'cachePrefix', text: `${shared} Question:` }, 'the shared text, cut at a word boundary, goes first');
  t.equal(backend.calls.filter((c) => c.kind === 'cachePrefix').length, 1, 'prefilled once');
  t.equal(backend.calls.filter((c) => c.kind === 'generate').length, 5);

  const short = new FakeBackend();
  await prog.runBatch([{ q: 'a' }, { q: 'b' }], { backend: short, concurrency: 1 });
  t.notOk(short.calls.some((c) => c.kind === 'cachePrefix'), 'a first wave of one has nothing to share');
  t.equal(sharedPrefix(['abc def', 'abc dxy']), 'abc');
  t.equal(sharedPrefix(['same', 'same']), 'same');
  t.equal(sharedPrefix(['Hello world ', 'Hello world foo']), 'Hello world');
});
