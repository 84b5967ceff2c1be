/** What the detokenizer needs of a tokenizer: decoding a run of ids (e.g. {@link ModelTokenizer}). */
export interface TokenTextDecoder {
  decode(ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }): string;
}

/** Options of {@link IncrementalDetokenizer}. */
export interface IncrementalDetokenizerOptions {
  /** Leave special tokens out of the text. Default true (SGLang's default for generated text). */
  readonly skipSpecialTokens?: boolean;
  /**
   * The prompt's ids. Its last few tokens are decoded along with the first output tokens, so
   * decoders that treat the start of a text specially (SentencePiece's leading space) see the
   * output as a continuation, not as a fresh text. Not part of the emitted text.
   */
  readonly contextIds?: readonly number[];
}

// How many prompt tokens give enough context; SGLang uses the same number.
const CONTEXT_TOKENS = 5;
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * Turns generated token ids into text deltas as they arrive (the prefix-offset / read-offset
 * scheme of Hugging Face's TextStreamer, vLLM and SGLang).
 *
 * Text is only final once it no longer ends in U+FFFD: a byte-level BPE token may carry part of a
 * multi-byte UTF-8 character, and decoding a prefix that ends inside one yields U+FFFD. Such text is
 * held back until the character completes (or {@link finish} flushes it).
 *
 * Each delta is cut from a decode of a short window (`ids[prefixOffset…]`) minus the decode of the
 * window's already-emitted part (`ids[prefixOffset…readOffset]`); decoding a window rather than one
 * token keeps context-dependent decoders (leading spaces, byte pieces) right. With
 * `clean_up_tokenization_spaces` on, a clean-up rule that reaches back across the emitted boundary
 * (" 's" → "'s") cannot be undone, so the concatenated deltas may keep that one space.
 */
export class IncrementalDetokenizer {
  // The window: ids from prefixOffset on; earlier ids are dropped once emitted.
  private ids: number[];
  private readOffset: number;
  private readonly skipSpecialTokens: boolean;

  constructor(
    private readonly decoder: TokenTextDecoder,
    options: IncrementalDetokenizerOptions = {},
  ) {
    this.skipSpecialTokens = options.skipSpecialTokens ?? true;
    this.ids = (options.contextIds ?? []).slice(-CONTEXT_TOKENS);
    this.readOffset = this.ids.length;
  }

  /** Adds one or more token ids and returns the text that became final (often "", never undone). */
  push(ids: number | readonly number[]): string {
    if (typeof ids === 'number') this.ids.push(ids);
    else for (const id of ids) this.ids.push(id);
    return this.advance(false);
  }

  /** Returns whatever is still held back (an incomplete character decodes to U+FFFD). */
  finish(): string {
    return this.advance(true);
  }

  private advance(flush: boolean): string {
    if (this.ids.length === this.readOffset) return '';
    const options = { skipSpecialTokens: this.skipSpecialTokens };
    const emitted = this.decoder.decode(this.ids.slice(0, this.readOffset), options);
    const text = this.decoder.decode(this.ids, options);
    if (!flush && (text.length <= emitted.length || text.endsWith(REPLACEMENT_CHARACTER))) return '';
    // The window now ends on a character boundary: its emitted part becomes the next window's context.
    this.ids = this.ids.slice(this.readOffset);
    this.readOffset = this.ids.length;
    return text.slice(emitted.length);
  }
}
