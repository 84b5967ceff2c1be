import type { GenerateRequest } from './types.js';
import { RequestError } from './errors.js';
import { previewValue } from '../util/value-preview.js';
import type { ModelTokenizer } from '../tokenizer/tokenizer.js';
import { MAX_TOP_LOGPROBS } from '../actors/protocol.js';
import type { SchedulerRequest } from '../actors/protocol.js';
import { idArray, type TokenIds } from '../tokenizer/tokenizer-pool.js';
import { DEFAULT_SAMPLING_PARAMS, validateSamplingParams } from '../scheduler/sampling-params.js';
import { SamplingParamError } from '../scheduler/sampling-errors.js';

// `satisfies` makes a new GenerateRequest field a compile error here until it is listed.
const KNOWN_FIELDS = new Set(Object.keys({
  prompt: true, inputIds: true, maxTokens: true, minTokens: true, temperature: true, topP: true, topK: true, minP: true,
  frequencyPenalty: true, presencePenalty: true, repetitionPenalty: true, logitBias: true, seed: true, stop: true,
  stopTokenIds: true, ignoreEos: true, logprobs: true, topLogprobs: true, promptLogprobsFrom: true, promptTopLogprobs: true,
  includeSpecialTokens: true, signal: true,
} satisfies Record<keyof GenerateRequest, true>));


function int(field: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RequestError(field, `must be an integer in [${min}, ${max}] (got ${previewValue(v)})`);
  }
  return v;
}

function bool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new RequestError(field, `must be a boolean (got ${previewValue(v)})`);
  return v;
}

function num(field: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RequestError(field, `must be a finite number (got ${previewValue(v)})`);
  return v;
}

/**
 * Checks a request at the engine boundary and turns it into the scheduler's form (prompt tokenized).
 * Throws RequestError naming the first bad field; nothing reaches the scheduler on error.
 * @param promptIds `prompt` already tokenized (off this thread, for a long prompt).
 */
export function validateRequest(
  req: GenerateRequest,
  id: string,
  tokenizer: ModelTokenizer,
  contextLength: number,
  kvCacheTokens: number,
  promptIds?: TokenIds,
): SchedulerRequest {
  // A request must fit the KV pool on its own, or it could never finish (retraction needs a smaller one).
  const limit = Math.min(contextLength, kvCacheTokens);
  if (req === null || typeof req !== 'object') throw new RequestError('request', 'must be an object');
  for (const key of Object.keys(req)) if (!KNOWN_FIELDS.has(key)) throw new RequestError(key, 'is not a known request field');
  const hasPrompt = req.prompt !== undefined;
  const hasIds = req.inputIds !== undefined;
  if (hasPrompt === hasIds) throw new RequestError('prompt', 'give exactly one of prompt or inputIds');
  let ids: TokenIds;
  if (hasPrompt) {
    if (typeof req.prompt !== 'string') throw new RequestError('prompt', 'must be a string');
    ids = promptIds ?? tokenizer.encode(req.prompt);
  } else {
    if (!Array.isArray(req.inputIds)) throw new RequestError('inputIds', 'must be an array of token ids');
    ids = req.inputIds.map((t, i) => int(`inputIds[${i}]`, t, 0, tokenizer.vocabSize - 1));
  }
  if (ids.length === 0) throw new RequestError(hasPrompt ? 'prompt' : 'inputIds', 'is empty (at least one token is needed)');
  if (ids.length >= limit) {
    throw new RequestError(
      hasPrompt ? 'prompt' : 'inputIds',
      `has ${ids.length} tokens; at most ${limit - 1} fit (context length ${contextLength}, KV cache ${kvCacheTokens} tokens)`,
    );
  }
  // Copied only now that it is known to be short enough.
  const inputIds = idArray(ids);
  const maxTokens = req.maxTokens === undefined ? 128 : int('maxTokens', req.maxTokens, 0);
  const minTokens = req.minTokens === undefined ? 0 : int('minTokens', req.minTokens, 0, maxTokens);
  const sampling = {
    temperature: num('temperature', req.temperature, DEFAULT_SAMPLING_PARAMS.temperature),
    topP: num('topP', req.topP, 1),
    topK: req.topK === undefined ? -1 : num('topK', req.topK, -1),
    minP: num('minP', req.minP, 0),
    frequencyPenalty: num('frequencyPenalty', req.frequencyPenalty, 0),
    presencePenalty: num('presencePenalty', req.presencePenalty, 0),
    repetitionPenalty: num('repetitionPenalty', req.repetitionPenalty, 1),
    logitBias: req.logitBias ?? {},
  };
  try {
    validateSamplingParams(sampling, tokenizer.vocabSize);
  } catch (e) {
    if (e instanceof SamplingParamError) throw new RequestError(e.field, e.message.slice(e.field.length + 1));
    throw e;
  }
  const stop = req.stop === undefined ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new RequestError('stop', 'must be a non-empty string or an array of non-empty strings');
  }
  const stopTokenIds = (req.stopTokenIds ?? []).map((t, i) => int(`stopTokenIds[${i}]`, t, 0, tokenizer.vocabSize - 1));
  const topLogprobs = req.topLogprobs === undefined ? 0 : int('topLogprobs', req.topLogprobs, 0, MAX_TOP_LOGPROBS);
  const logprobs = (req.logprobs === undefined ? false : bool('logprobs', req.logprobs)) || topLogprobs > 0;
  const promptLogprobsFrom =
    req.promptLogprobsFrom === undefined ? undefined : int('promptLogprobsFrom', req.promptLogprobsFrom, 0, inputIds.length - 1);
  if (req.seed !== undefined) int('seed', req.seed, 0);
  if (req.signal !== undefined && !(req.signal instanceof AbortSignal)) throw new RequestError('signal', 'must be an AbortSignal');
  return {
    id,
    inputIds,
    sampling,
    maxTokens: Math.min(maxTokens, limit - inputIds.length),
    minTokens,
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
    stop,
    stopTokenIds,
    ignoreEos: req.ignoreEos === undefined ? false : bool('ignoreEos', req.ignoreEos),
    logprobs,
    topLogprobs,
    ...(promptLogprobsFrom !== undefined ? { promptLogprobsFrom } : {}),
    promptTopLogprobs: req.promptTopLogprobs === undefined ? 0 : int('promptTopLogprobs', req.promptTopLogprobs, 0, MAX_TOP_LOGPROBS),
    includeSpecialTokens: req.includeSpecialTokens === undefined ? false : bool('includeSpecialTokens', req.includeSpecialTokens),
  };
}
