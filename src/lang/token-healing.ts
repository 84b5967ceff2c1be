import { LangError } from './errors.js';

/**
 * Where select's scoring window starts: SGLang asks for prompt logprobs from
 * `max(promptTokens - 2, 0)`, so the last prefix token may be re-tokenized together with the
 * choice (e.g. a trailing space that joins the choice's first word) and still be scored right.
 */
export function healingWindowStart(prefixTokens: number): number {
  return Math.max(prefixTokens - 2, 0);
}

/**
 * The offset, inside the window, of the first token to score: where the jointly tokenized
 * `prefix + choice` stops following the prefix's own tokens. Both arrays start at the window start.
 * @throws LangError when the choice adds no token of its own (an empty choice).
 */
export function firstScoredOffset(prefixWindow: readonly number[], fullWindow: readonly number[], choiceIndex: number): number {
  let k = 0;
  while (k < prefixWindow.length && k < fullWindow.length && prefixWindow[k] === fullWindow[k]) k++;
  if (k >= fullWindow.length) throw new LangError(`select.choices[${choiceIndex}]`, 'adds no token to the prefix (is it empty?)');
  return k;
}
