import t from 'tap';
import fc from 'fast-check';
import { StopMatcher } from '../../src/scheduler/stop-matcher.js';
import { SamplingParamError } from '../../src/scheduler/sampling-errors.js';

/** Feeds `deltas` in order; returns the emitted text, the stop, and the emitted text after each push. */
function run(stops: string[], deltas: string[]) {
  const matcher = new StopMatcher(stops);
  let emitted = '';
  const history: string[] = [];
  for (const d of deltas) {
    const r = matcher.push(d);
    emitted += r.text;
    history.push(emitted);
    if (r.stop !== null) return { emitted, stop: r.stop, history };
  }
  emitted += matcher.flush();
  return { emitted, stop: null, history };
}

/** The definition, char by char: the first stop string to complete ends the text (ties: earliest start). */
function expected(stops: string[], text: string): { emitted: string; stop: string | null } {
  for (let end = 1; end <= text.length; end++) {
    const prefix = text.slice(0, end);
    const done = stops.filter((s) => prefix.endsWith(s)).sort((a, b) => b.length - a.length);
    if (done.length > 0) return { emitted: text.slice(0, end - done[0]!.length), stop: done[0]! };
  }
  return { emitted: text, stop: null };
}

/** Splits `text` at the given cut points. */
function split(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let from = 0;
  for (const p of points) {
    parts.push(text.slice(from, p));
    from = p;
  }
  parts.push(text.slice(from));
  return parts;
}

t.test('a stop string inside one delta cuts the text before it', async (t) => {
  const m = new StopMatcher(['STOP']);
  t.same(m.push('hello STOP and more'), { text: 'hello ', stop: 'STOP', heldBack: 0 });
  t.equal(m.stop, 'STOP');
  t.same(m.push('ignored'), { text: '', stop: 'STOP', heldBack: 0 }, 'text after a stop is ignored');
  t.equal(m.flush(), '');
});

t.test('a stop string straddling deltas is held back, then cut', async (t) => {
  const m = new StopMatcher(['</answer>']);
  t.same(m.push('42 </'), { text: '42 ', stop: null, heldBack: 2 });
  t.same(m.push('ans'), { text: '', stop: null, heldBack: 5 });
  t.same(m.push('wer> tail'), { text: '', stop: '</answer>', heldBack: 0 });
});

t.test('held-back text is released once it cannot start a stop string', async (t) => {
  const m = new StopMatcher(['\n\nUser:']);
  t.same(m.push('line\n'), { text: 'line', stop: null, heldBack: 1 });
  t.same(m.push('\nUs'), { text: '', stop: null, heldBack: 4 });
  t.same(m.push('e'), { text: '', stop: null, heldBack: 5 });
  t.same(m.push('d'), { text: '\n\nUsed', stop: null, heldBack: 0 });
  t.same(m.push('\n'), { text: '', stop: null, heldBack: 1 });
  t.equal(m.flush(), '\n', 'flush releases the rest when the output ends otherwise');
});

t.test('several stops: the first to complete wins, ties go to the earlier start', async (t) => {
  t.same(run(['abcd', 'c'], ['abcd']), { emitted: 'ab', stop: 'c', history: ['ab'] });
  t.same(run(['b', 'a'], ['xab']), { emitted: 'x', stop: 'a', history: ['x'] });
  t.same(run(['bc', 'abc'], ['ab', 'c']), { emitted: '', stop: 'abc', history: ['', ''] });
});

t.test('no stops: everything passes straight through', async (t) => {
  const m = new StopMatcher([]);
  t.same(m.push('any text'), { text: 'any text', stop: null, heldBack: 0 });
});

t.test('empty stop strings are rejected, naming the index', async (t) => {
  t.throws(() => new StopMatcher(['ok', '']), SamplingParamError);
  t.throws(() => new StopMatcher(['ok', '']), { field: 'stop[1]', message: /stop\[1\] must be a non-empty string/ });
});

t.test('property: any chunking gives the definition, and emitted text is never taken back', async (t) => {
  const alphabet = fc.constantFrom('a', 'b', 'c', '\n', '世', '🌳');
  const word = (min: number) => fc.array(alphabet, { minLength: min, maxLength: 5 }).map((cs) => cs.join(''));
  fc.assert(
    fc.property(fc.array(word(1), { maxLength: 3 }), word(0), fc.array(word(0), { maxLength: 8 }), fc.array(fc.nat(60), { maxLength: 10 }), (stops, head, body, cuts) => {
      const text = head + body.join('');
      const want = expected(stops, text);
      const got = run(stops, split(text, cuts));
      t.equal(got.emitted, want.emitted);
      t.equal(got.stop, want.stop);
      // Every intermediate emission is a prefix of the final output: nothing of a stop string leaked.
      t.ok(got.history.every((h) => want.emitted.startsWith(h)), 'emissions only grow the final text');
    }),
    { numRuns: 500, seed: 7 },
  );
});
