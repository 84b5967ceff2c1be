/**
 * A synthetic byte-level BPE vocabulary of exactly `size` tokens, for benchmark models with random
 * weights: benchmarks feed token ids, never text, but llama.cpp and Hugging Face tokenizers still
 * need a well-formed vocabulary whose size matches the embedding matrix.
 *
 * Ids: the special tokens at the ids given (e.g. `<|endoftext|>` at the model's BOS/EOS id); every
 * other id, in increasing order, takes the next entry of: the 256 byte symbols (GPT-2's
 * bytes_to_unicode alphabet), then two-symbol tokens `a+b` (merge "a b"), then three-symbol tokens
 * `ab+c` (merge "ab c"). Every token is unique and every merged token is reachable by its merge.
 * The same vocabulary is written to the GGUF (tokenizer.ggml.*) and to tokenizer.json, so llama.cpp
 * and arbor agree on what every id is.
 */

/** GPT-2's byte → printable unicode symbol table (the ByteLevel pre-tokenizer's alphabet). */
export function byteSymbols(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const set = new Set(printable);
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(set.has(b) ? b : 256 + n++);
  return out;
}

export interface SyntheticVocab {
  /** Token text by id. */
  readonly tokens: string[];
  /** llama.cpp token types by id: 1 normal, 3 control, 6 byte (we use normal for byte symbols, as gpt2 vocabs do). */
  readonly tokenTypes: Int32Array;
  /** BPE merges in rank order, as [left, right]. */
  readonly merges: [string, string][];
  /** Ids of the special tokens. */
  readonly specialIds: number[];
}

export const TOKEN_TYPE_NORMAL = 1;
export const TOKEN_TYPE_CONTROL = 3;

/**
 * Builds the vocabulary. `specials` maps id → text of special (control) tokens; ids must be < size.
 */
export function syntheticVocab(size: number, specials: ReadonlyMap<number, string>): SyntheticVocab {
  const bytes = byteSymbols();
  const tokens = new Array<string>(size);
  const tokenTypes = new Int32Array(size).fill(TOKEN_TYPE_NORMAL);
  const merges: [string, string][] = [];
  for (const [id, text] of specials) {
    if (id < 0 || id >= size) throw new RangeError(`special token id ${id} outside vocab of ${size}`);
    tokens[id] = text;
    tokenTypes[id] = TOKEN_TYPE_CONTROL;
  }
  // Generator of (text, merge) in a fixed order.
  function* entries(): Generator<[string, [string, string] | null]> {
    for (const b of bytes) yield [b, null];
    for (const a of bytes) for (const b of bytes) yield [a + b, [a, b]];
    for (const a of bytes) for (const b of bytes) for (const c of bytes) yield [a + b + c, [a + b, c]];
  }
  const gen = entries();
  for (let id = 0; id < size; id++) {
    if (tokens[id] !== undefined) continue;
    const next = gen.next();
    if (next.done) throw new RangeError(`vocab size ${size} too large`);
    const [text, merge] = next.value;
    tokens[id] = text;
    if (merge) merges.push(merge);
  }
  return { tokens, tokenTypes, merges, specialIds: [...specials.keys()].sort((a, b) => a - b) };
}

/**
 * Hugging Face `tokenizer.json` (byte-level BPE) and `tokenizer_config.json` for the vocabulary, so
 * arbor (which loads a model folder's tokenizer) knows every id of the benchmark model.
 */
export function hfTokenizerFiles(
  vocab: SyntheticVocab,
  bosEos: string,
  contextLength: number,
): { tokenizerJson: string; tokenizerConfigJson: string } {
  const vocabMap: Record<string, number> = {};
  vocab.tokens.forEach((t, i) => {
    vocabMap[t] = i;
  });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: vocab.specialIds.map((id) => ({
      id,
      content: vocab.tokens[id],
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabMap,
      merges: vocab.merges,
    },
  };
  const config = {
    add_bos_token: false,
    bos_token: bosEos,
    eos_token: bosEos,
    model_max_length: contextLength,
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: false,
  };
  return { tokenizerJson: JSON.stringify(tokenizer), tokenizerConfigJson: `${JSON.stringify(config, null, 2)}\n` };
}
