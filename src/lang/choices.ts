import type { ScoredChoice } from './backend.js';
import { LangError } from './errors.js';
import type { ChoiceMethod, SelectMetaInfo, TokenLogprobEntry } from './types.js';

/** The select methods, for validating user input. */
export const CHOICE_METHODS: readonly ChoiceMethod[] = ['token_length_normalized', 'greedy_token_selection', 'unconditional_likelihood_normalized'];

/**
 * The entries of a choice that carry a logprob. Only the very first prompt token has none, and it
 * is scored only when the prefix is one token that the choice re-tokenizes.
 * @throws LangError when none is left.
 */
export function scorableTokens(entries: readonly TokenLogprobEntry[], choiceIndex: number): TokenLogprobEntry[] {
  const kept = entries.filter((e) => e.logprob !== null);
  if (kept.length === 0) throw new LangError(`select.choices[${choiceIndex}]`, 'has no token with a logprob to score (the text before select is too short)');
  return kept;
}

/**
 * Picks a choice the way SGLang's `choices_method` does and builds the variable's meta info.
 * - token_length_normalized: the highest mean token logprob.
 * - greedy_token_selection: compare the choices token by token, keeping those with the best
 *   logprob at each position; a shorter choice is padded with its own mean logprob.
 * - unconditional_likelihood_normalized: the highest mean of (logprob after the prefix − logprob
 *   with no prefix), which discounts choices that are likely anywhere.
 * Ties go to the earliest choice.
 */
export function decide(method: ChoiceMethod, scored: readonly ScoredChoice[]): SelectMetaInfo {
  const values = scored.map((c) => c.tokens.map((t) => t.logprob!));
  const normalized = values.map(mean);
  const base = {
    kind: 'select' as const,
    method,
    normalizedPromptLogprobs: normalized,
    inputTokenLogprobs: scored.map((c) => c.tokens),
    outputTokenLogprobs: scored.map(() => []),
  };
  switch (method) {
    case 'token_length_normalized':
      return { ...base, index: argmaxFirst(normalized) };
    case 'greedy_token_selection': {
      const matrix = greedyMatrix(values);
      return { ...base, index: greedyPick(matrix), greedyLogprobMatrix: matrix };
    }
    case 'unconditional_likelihood_normalized': {
      const unconditional = scored.map((c, i) => {
        if (!c.unconditional) throw new LangError('select.method', 'the backend returned no unconditional logprobs');
        if (c.unconditional.length !== c.tokens.length) {
          throw new LangError(`select.choices[${i}]`, `got ${c.unconditional.length} unconditional logprobs for ${c.tokens.length} tokens`);
        }
        return c.unconditional;
      });
      // The first token has no logprob on its own; it counts as 0 (certain), as in SGLang.
      const diffs = unconditional.map((u, i) => mean(values[i]!.map((v, j) => v - (u[j]!.logprob ?? 0))));
      return {
        ...base,
        index: argmaxFirst(diffs),
        unconditionalTokenLogprobs: unconditional,
        normalizedUnconditionalPromptLogprobs: diffs,
      };
    }
  }
}

function mean(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

function argmaxFirst(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

function greedyMatrix(values: readonly (readonly number[])[]): number[][] {
  const width = Math.max(...values.map((v) => v.length));
  return values.map((v) => {
    const pad = mean(v);
    return Array.from({ length: width }, (_, j) => (j < v.length ? v[j]! : pad));
  });
}

function greedyPick(matrix: readonly (readonly number[])[]): number {
  let remaining = matrix.map((_, i) => i);
  const width = matrix[0]!.length;
  for (let j = 0; j < width && remaining.length > 1; j++) {
    const best = Math.max(...remaining.map((i) => matrix[i]![j]!));
    remaining = remaining.filter((i) => matrix[i]![j] === best);
  }
  return remaining[0]!;
}
