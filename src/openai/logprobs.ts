import type { TokenLogprob } from '../engine/types.js';
import type { ChatTokenLogprob, CompletionLogprobs, TopLogprob } from './types.js';

/** What the OpenAI shapes need from a tokenizer: the text of one token. */
export interface TokenTextSource {
  tokenText(id: number): string;
}

/**
 * Chat `logprobs.content` entries: each token's text, logprob, UTF-8 bytes and top alternatives
 * (`top_logprobs` of them; the engine returns at most that many).
 */
export function chatLogprobContent(tokens: readonly TokenLogprob[], tokenizer: TokenTextSource): ChatTokenLogprob[] {
  return tokens.map((t) => ({
    ...topEntry(t.token, t.logprob, tokenizer),
    top_logprobs: (t.topLogprobs ?? []).map((alt) => topEntry(alt.token, alt.logprob, tokenizer)),
  }));
}

/**
 * The legacy /v1/completions `logprobs` object. `top_logprobs[i]` maps token text to logprob
 * for the `top` best alternatives (with `top` 0, just the chosen token, as vLLM does);
 * `text_offset[i]` is where token i starts in the generated text, counting from `textOffset`.
 */
export function completionLogprobs(
  tokens: readonly TokenLogprob[],
  top: number,
  tokenizer: TokenTextSource,
  textOffset: number,
): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = textOffset;
  for (const t of tokens) {
    const text = tokenizer.tokenText(t.token);
    out.tokens.push(text);
    out.token_logprobs.push(t.logprob);
    const alternatives = top > 0 ? (t.topLogprobs ?? []) : [t];
    // Two ids can share a text (e.g. partial UTF-8); the likelier one keeps the key. No prototype:
    // a token whose text is "constructor" or "__proto__" must be a key like any other.
    const byText = Object.create(null) as Record<string, number>;
    for (const alt of alternatives) {
      const key = tokenizer.tokenText(alt.token);
      byText[key] = Math.max(byText[key] ?? -Infinity, alt.logprob);
    }
    out.top_logprobs.push(byText);
    out.text_offset.push(offset);
    offset += text.length;
  }
  return out;
}

function topEntry(token: number, logprob: number, tokenizer: TokenTextSource): TopLogprob {
  const text = tokenizer.tokenText(token);
  return { token: text, logprob, bytes: [...Buffer.from(text, 'utf8')] };
}
