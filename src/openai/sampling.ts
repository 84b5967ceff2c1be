import type { GenerateRequest, Usage } from '../engine/types.js';
import type { CompletionUsage } from './types.js';
import { MAX_TOP_LOGPROBS } from '../actors/protocol.js';
import { MAX_REPETITION_PENALTY, MIN_REPETITION_PENALTY } from '../scheduler/sampling-params.js';
import {
  bad,
  checkNumber,
  dropUndefined,
  field,
  optBoolean,
  optLogitBias,
  optNumber,
  optStop,
  optString,
  optTokenIds,
  refuse,
  refuseStopRegex,
  type JsonObject,
  type NumberRule,
} from './json-fields.js';

/** repetition_penalty's range on both protocols (see MIN_REPETITION_PENALTY for why not just > 0). */
export const REPETITION_PENALTY: NumberRule = { min: MIN_REPETITION_PENALTY, max: MAX_REPETITION_PENALTY };

/** Most choices (`n`) one request may ask for. */
export const MAX_N = 128;
/** Most alternatives per position (`logprobs` / `top_logprobs`), as vLLM and SGLang allow. */
export { MAX_TOP_LOGPROBS };

/** Facts of the served model that bound a request. */
export interface ModelLimits {
  /** Token ids must be below this (the tokenizer's vocabulary size). */
  readonly vocabSize: number;
  /** Prompt and output together must fit in this many tokens (the engine's context length). */
  readonly contextLength: number;
}

/** Refuses a prompt that leaves no room for output, naming the wire field it came from. */
export function checkPromptLength(ids: { readonly length: number }, name: string, contextLength: number): void {
  if (ids.length >= contextLength) {
    bad(name, `has ${ids.length} tokens; the context length is ${contextLength} (prompt + output must fit)`);
  }
}

/**
 * Refuses a minimum output longer than the maximum, naming the wire field: the engine would refuse
 * it too, but by its own name (`minTokens`).
 * @param request carries the output limit it will run with (given or defaulted) in `maxTokens`.
 */
export function checkMinTokens(request: GenerateRequest, minName: string): void {
  const max = request.maxTokens;
  if (request.minTokens !== undefined && max !== undefined && request.minTokens > max) {
    bad(minName, `must be <= the output limit (${max})`, request.minTokens);
  }
}

/** What /v1/completions and /v1/chat/completions share: sampling, `n`, streaming. */
export interface OpenAICommonRequest {
  /** The request's `model`, when given (arbor serves one model and does not check it). */
  readonly model: string | undefined;
  /** Sampling and stopping options, without the prompt. */
  readonly sampling: GenerateRequest;
  readonly n: number;
  readonly stream: boolean;
  /** `stream_options.include_usage`: end the stream with a usage-only chunk. */
  readonly includeUsage: boolean;
}

/**
 * Reads the sampling fields both OpenAI routes accept, with OpenAI's ranges, plus SGLang's extras
 * (`top_k`, `min_p`, `repetition_penalty`, `min_tokens`, `ignore_eos`, `stop_token_ids`,
 * `skip_special_tokens`).
 * @param maxTokensKeys the fields that may carry the token limit, in order of precedence.
 * @param vocabSize bound of token ids in `logit_bias` and `stop_token_ids`.
 * @throws RequestError naming the wire field.
 */
export function readCommon(body: JsonObject, maxTokensKeys: readonly string[], vocabSize: number): OpenAICommonRequest {
  const model = optString(body, 'model', 'model');
  let maxTokens: number | undefined;
  for (const key of maxTokensKeys) {
    maxTokens ??= optNumber(body, key, key, { integer: true, min: 0 });
  }
  const n = optNumber(body, 'n', 'n', { integer: true, min: 1, max: MAX_N }) ?? 1;
  const bestOf = optNumber(body, 'best_of', 'best_of', { integer: true, min: 1 });
  if (bestOf !== undefined && bestOf !== n) bad('best_of', 'must equal n (arbor returns every sample)', bestOf);

  const topK = optNumber(body, 'top_k', 'top_k', { integer: true, min: -1 });
  if (topK === 0) bad('top_k', 'must be -1 (all tokens) or >= 1', topK);
  const skipSpecial = optBoolean(body, 'skip_special_tokens', 'skip_special_tokens');

  const responseFormat = field(body, 'response_format');
  if (responseFormat !== undefined && (responseFormat as JsonObject)?.['type'] !== 'text') {
    bad('response_format', 'only {"type": "text"} is supported (constrained decoding is not available yet)', responseFormat);
  }
  refuse(body, 'regex', 'regex', 'constrained decoding is not available yet');
  refuse(body, 'ebnf', 'ebnf', 'constrained decoding is not available yet');
  refuseStopRegex(body, 'stop_regex');

  const stream = optBoolean(body, 'stream', 'stream') ?? false;
  const streamOptions = field(body, 'stream_options');
  let includeUsage = false;
  if (streamOptions !== undefined) {
    if (typeof streamOptions !== 'object' || Array.isArray(streamOptions)) {
      bad('stream_options', 'must be a JSON object', streamOptions);
    }
    includeUsage = optBoolean(streamOptions as JsonObject, 'include_usage', 'stream_options.include_usage') ?? false;
  }

  const sampling: GenerateRequest = dropUndefined({
    maxTokens,
    temperature: optNumber(body, 'temperature', 'temperature', { min: 0, max: 2 }),
    topP: optNumber(body, 'top_p', 'top_p', { above: 0, max: 1 }),
    topK,
    minP: optNumber(body, 'min_p', 'min_p', { min: 0, max: 1 }),
    presencePenalty: optNumber(body, 'presence_penalty', 'presence_penalty', { min: -2, max: 2 }),
    frequencyPenalty: optNumber(body, 'frequency_penalty', 'frequency_penalty', { min: -2, max: 2 }),
    repetitionPenalty: optNumber(body, 'repetition_penalty', 'repetition_penalty', REPETITION_PENALTY),
    logitBias: optLogitBias(body, 'logit_bias', 'logit_bias', vocabSize),
    seed: optNumber(body, 'seed', 'seed', { integer: true, min: 0 }),
    stop: optStop(body, 'stop', 'stop'),
    stopTokenIds: optTokenIds(body, 'stop_token_ids', 'stop_token_ids', vocabSize),
    minTokens: optNumber(body, 'min_tokens', 'min_tokens', { integer: true, min: 0 }),
    ignoreEos: optBoolean(body, 'ignore_eos', 'ignore_eos'),
    includeSpecialTokens: skipSpecial === undefined ? undefined : !skipSpecial,
  });
  return { model, sampling, n, stream, includeUsage: stream && includeUsage };
}

/**
 * The `n` engine requests behind one choice-set. With a seed, copy i gets seed + i so the choices
 * differ yet the whole response stays reproducible.
 */
export function fanOut(request: GenerateRequest, n: number): GenerateRequest[] {
  return Array.from({ length: n }, (_, i) =>
    i === 0 || request.seed === undefined ? { ...request } : { ...request, seed: request.seed + i },
  );
}

/**
 * OpenAI usage of a response whose results are `n` choices per prompt, in prompt-major order:
 * each prompt's tokens (and cache hits) count once, every choice's completion counts.
 */
export function toUsage(usages: readonly Usage[], n: number): CompletionUsage {
  let prompt = 0;
  let completion = 0;
  let cached = 0;
  usages.forEach((u, i) => {
    completion += u.completionTokens;
    if (i % n === 0) {
      prompt += u.promptTokens;
      cached += u.cachedTokens;
    }
  });
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

/** `top_logprobs`-style counts: an integer in [0, MAX_TOP_LOGPROBS]. */
export function checkTopLogprobs(value: unknown, name: string): number {
  return checkNumber(value, name, { integer: true, min: 0, max: MAX_TOP_LOGPROBS });
}
