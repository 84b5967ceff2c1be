import type { FinishReason } from '../engine/types.js';
import { BackendError } from './errors.js';
import type { GenMetaInfo, SamplingOptions, TokenLogprobEntry } from './types.js';

/** `[logprob, token_id, text]` as /generate returns it. */
export type WireLogprob = [number | null, number, string | null];

/** The `meta_info` of a /generate response (the fields the frontend reads). */
export interface WireMetaInfo {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  finish_reason: { type: 'stop'; matched: string | number | null } | { type: 'length' } | { type: 'abort'; message?: string } | null;
  input_token_logprobs?: WireLogprob[];
  output_token_logprobs?: WireLogprob[];
  input_top_logprobs?: (WireLogprob[] | null)[];
  output_top_logprobs?: WireLogprob[][];
}

/** One /generate response. */
export interface WireResponse {
  text: string;
  meta_info: WireMetaInfo;
}

/** The body fields of a /generate request that carry `gen`'s options (PROTOCOL.md names). */
export function generateFields(o: SamplingOptions): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) p[key] = value;
  };
  put('max_new_tokens', o.maxTokens);
  put('min_new_tokens', o.minTokens);
  put('temperature', o.temperature);
  put('top_p', o.topP);
  put('top_k', o.topK);
  put('min_p', o.minP);
  put('frequency_penalty', o.frequencyPenalty);
  put('presence_penalty', o.presencePenalty);
  put('repetition_penalty', o.repetitionPenalty);
  put('logit_bias', o.logitBias);
  put('seed', o.seed);
  put('stop', o.stop);
  put('stop_token_ids', o.stopTokenIds);
  put('ignore_eos', o.ignoreEos);
  put('skip_special_tokens', o.includeSpecialTokens === undefined ? undefined : !o.includeSpecialTokens);
  const body: Record<string, unknown> = { sampling_params: p };
  const top = o.topLogprobs ?? 0;
  if (o.logprobs || top > 0 || o.promptLogprobsFrom !== undefined) {
    body['return_logprob'] = true;
    body['return_text_in_logprobs'] = true;
    body['logprob_start_len'] = o.promptLogprobsFrom ?? -1;
    if (top > 0) body['top_logprobs_num'] = top;
  }
  return body;
}

/** Wire triples (and their top alternatives) as entries. */
export function entriesOf(triples: readonly WireLogprob[], tops?: readonly (WireLogprob[] | null)[]): TokenLogprobEntry[] {
  return triples.map(([logprob, token, text], i) => {
    const top = tops?.[i];
    return {
      token,
      logprob,
      text: text ?? '',
      ...(top ? { topLogprobs: top.map(([lp, id, t]) => ({ token: id, logprob: lp ?? 0, text: t ?? '' })) } : {}),
    };
  });
}

/** A /generate `meta_info` as `gen`'s meta info. */
export function genMetaOf(m: WireMetaInfo, o: SamplingOptions): GenMetaInfo {
  const f = m.finish_reason;
  if (!f) throw new BackendError('the server ended the response without a finish_reason');
  const finishReason: FinishReason = f.type;
  const wantsOutput = o.logprobs === true || (o.topLogprobs ?? 0) > 0;
  return {
    kind: 'gen',
    promptTokens: m.prompt_tokens,
    completionTokens: m.completion_tokens,
    cachedTokens: m.cached_tokens,
    finishReason,
    ...(f.type === 'stop' && f.matched !== null ? { matchedStop: f.matched } : {}),
    ...(o.promptLogprobsFrom !== undefined && m.input_token_logprobs
      ? { inputTokenLogprobs: entriesOf(m.input_token_logprobs, m.input_top_logprobs) }
      : {}),
    ...(wantsOutput && m.output_token_logprobs ? { outputTokenLogprobs: entriesOf(m.output_token_logprobs, m.output_top_logprobs) } : {}),
  };
}
