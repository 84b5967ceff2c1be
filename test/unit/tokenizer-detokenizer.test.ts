import t from 'tap';
import fc from 'fast-check';
import { join } from 'node:path';
import { IncrementalDetokenizer } from '../../src/tokenizer/detokenizer.js';
import type { TokenTextDecoder } from '../../src/tokenizer/detokenizer.js';
import { ModelTokenizer } from '../../src/tokenizer/tokenizer.js';
import { FIXTURES } from '../helpers/fixtures.js';

const tok = await ModelTokenizer.load(join(FIXTURES, 'tokenizer'));

// Pieces the fixture tokenizer (trained on English only) splits into single bytes: CJK, kana,
// accents, emoji with skin tones and ZWJ sequences, flags.
const PIECES = ['你好', '世界', '。', 'こんにちは', 'カタカナ', 'déjà', 'Straße', '€', '🌳', '🚀', '👍🏽', '👨‍👩‍👧', '🇫🇷', 'The', ' river', ' ', '\n', '  '];
const multilingual = fc
  .array(fc.oneof(fc.constantFrom(...PIECES), fc.string({ unit: 'grapheme', maxLength: 6 })), { maxLength: 20 })
  .map((parts) => parts.join(''));

/** Feeds `ids` in chunks of the given sizes (cycled) and returns every delta plus the flush. */
function feed(detok: IncrementalDetokenizer, ids: number[], chunkSizes: number[] = [1]): string[] {
  const deltas: string[] = [];
  for (let i = 0, c = 0; i < ids.length; c++) {
    const size = Math.max(1, chunkSizes[c % chunkSizes.length]!);
    const chunk = ids.slice(i, i + size);
    deltas.push(chunk.length === 1 ? detok.push(chunk[0]!) : detok.push(chunk));
    i += size;
  }
  deltas.push(detok.finish());
  return deltas;
}

t.test('token-by-token deltas reassemble random multilingual text exactly', async (t) => {
  fc.assert(
    fc.property(multilingual, (text) => {
      const ids = tok.encode(text);
      const deltas = feed(new IncrementalDetokenizer(tok), ids);
      t.equal(deltas.join(''), text);
      // Valid text never shows a replacement character: partial characters are held back.
      t.notOk(deltas.some((d) => d.includes('\uFFFD')), 'no U+FFFD in any delta');
    }),
    { numRuns: 300, seed: 1234 },
  );
});

t.test('batches of any size give the same text', async (t) => {
  fc.assert(
    fc.property(multilingual, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }), (text, sizes) => {
      const ids = tok.encode(text);
      t.equal(feed(new IncrementalDetokenizer(tok), ids, sizes).join(''), text);
    }),
    { numRuns: 200, seed: 99 },
  );
});

t.test('an emoji split over four byte tokens appears only when complete', async (t) => {
  const ids = tok.encode('🌳');
  t.equal(ids.length, 4, 'the fixture tokenizer has no merges for emoji bytes');
  const detok = new IncrementalDetokenizer(tok);
  t.same(ids.map((id) => detok.push(id)), ['', '', '', '🌳']);
  t.equal(detok.finish(), '');
});

t.test('finish flushes an incomplete character as U+FFFD', async (t) => {
  const ids = tok.encode('a🌳').slice(0, 3); // "a" + two of the emoji's four bytes
  const detok = new IncrementalDetokenizer(tok);
  t.equal(ids.map((id) => detok.push(id)).join(''), 'a');
  t.equal(detok.finish(), '\uFFFD');
});

t.test('special tokens are skipped by default and kept on request', async (t) => {
  const ids = tok.encode('<|im_start|>assistant\nIt runs.<|im_end|>');
  t.equal(feed(new IncrementalDetokenizer(tok), ids).join(''), 'assistant\nIt runs.');
  t.equal(feed(new IncrementalDetokenizer(tok, { skipSpecialTokens: false }), ids).join(''), '<|im_start|>assistant\nIt runs.<|im_end|>');
});

t.test('context ids are decoded with the output but never emitted', async (t) => {
  // A SentencePiece-like decoder drops the leading space of a text (▁ at the very start).
  const vocab = ['▁Hello', '▁world', '!'];
  const sentencePiece: TokenTextDecoder = {
    decode: (ids) => ids.map((id) => vocab[id]!).join('').replace(/▁/g, ' ').replace(/^ /, ''),
  };
  t.equal(feed(new IncrementalDetokenizer(sentencePiece), [1, 2]).join(''), 'world!', 'alone, the output loses its space');
  t.equal(feed(new IncrementalDetokenizer(sentencePiece, { contextIds: [0] }), [1, 2]).join(''), ' world!');

  const prompt = tok.encode('The river ran past the tree.');
  const output = tok.encode(' 你好 world');
  t.equal(feed(new IncrementalDetokenizer(tok, { contextIds: prompt }), output).join(''), ' 你好 world');
});
