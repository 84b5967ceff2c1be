import { TokenLimitError } from '../engine/errors.js';
import type { TokenizeOptions } from '../engine/types.js';
import { bad } from './json-fields.js';
import { checkPromptLength } from './sampling.js';

/** What tokenizing prompts needs of the engine (`Engine` has it). */
export interface PromptTokenizer {
  readonly options: { readonly contextLength: number };
  tokenize(texts: readonly string[], addSpecialTokens?: boolean, options?: TokenizeOptions): Promise<number[][]>;
}

/**
 * Tokenizes a request's text prompts with the engine's tokenizer pool — off the event loop for a
 * big batch or a long text, stopped when `signal` aborts — and refuses one that cannot fit in the
 * context (RequestError naming `name(i)`) before its ids are copied out of the worker's result, or
 * one that encodes to no tokens.
 */
export async function tokenizePrompts(
  engine: PromptTokenizer,
  texts: readonly string[],
  name: (index: number) => string,
  signal: AbortSignal | undefined,
  addSpecialTokens = true,
): Promise<number[][]> {
  const contextLength = engine.options.contextLength;
  let ids: number[][];
  try {
    ids = await engine.tokenize(texts, addSpecialTokens, { maxTokens: contextLength - 1, ...(signal ? { signal } : {}) });
  } catch (err) {
    if (err instanceof TokenLimitError) checkPromptLength({ length: err.tokens }, name(err.index), contextLength);
    throw err;
  }
  const empty = ids.findIndex((x) => x.length === 0);
  if (empty >= 0) bad(name(empty), 'encodes to no tokens (at least one is needed)');
  return ids;
}
