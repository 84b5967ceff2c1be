import t from 'tap';
import { previewValue, PREVIEW_CHARS } from '../../src/util/value-preview.js';
import { completionLogprobs } from '../../src/openai/logprobs.js';

t.test('renders small values as JSON does', async (t) => {
  for (const v of [1, -2.5, 'hi', true, null, [1, 'a', [null]], { a: 1, b: [2, { c: 'd' }] }, {}, []]) {
    t.equal(previewValue(v), JSON.stringify(v), JSON.stringify(v));
  }
  t.equal(previewValue(undefined), 'undefined');
  t.equal(previewValue(NaN), 'NaN', 'not "null" as JSON would say');
  t.equal(previewValue(10n), '10n');
  t.equal(previewValue(() => 1), 'a function');
  t.equal(previewValue(Symbol('s')), 'Symbol(s)');
});

t.test('bounded whatever the value: depth, cycles, size, getters', async (t) => {
  let deep: unknown[] = [];
  for (let i = 0; i < 1_000_000; i++) deep = [deep];
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic['self'] = cyclic;
  const getter = Object.defineProperty({}, 'x', {
    enumerable: true,
    get() {
      throw new Error('no');
    },
  });
  const cases: [unknown, RegExp][] = [
    [deep, /^\[\[\[\[+\.\.\.$/],
    [cyclic, /^\{"a":1,"self":\{"a":1,"self":\{/],
    ['x'.repeat(30_000_000), /^"x+\.\.\.$/],
    [new Array(10_000_000).fill(7), /^\[7,7,7/],
    [getter, /^\{"x":"<unreadable>"\}$/],
    [Object.create({ inherited: 1 }), /^\{\}$/],
  ];
  for (const [value, shape] of cases) {
    const text = previewValue(value);
    t.match(text, shape);
    t.ok(text.length <= PREVIEW_CHARS, `${text.slice(0, 20)}: at most ${PREVIEW_CHARS} characters`);
  }
});

t.test('completion top_logprobs keys may be any token text, "__proto__" and "constructor" included', async (t) => {
  const texts = ['constructor', '__proto__', 'toString', 'hi'];
  const tokenizer = { tokenText: (id: number) => texts[id]! };
  const alternatives = texts.map((_, token) => ({ token, logprob: -1 - token }));
  const out = completionLogprobs([{ token: 3, logprob: -4, topLogprobs: alternatives }], 4, tokenizer, 0);
  // Compared as JSON text: an object literal's `__proto__:` would set a prototype, not a key.
  t.equal(JSON.stringify(out.top_logprobs), '[{"constructor":-1,"__proto__":-2,"toString":-3,"hi":-4}]');
});
