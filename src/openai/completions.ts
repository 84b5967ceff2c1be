import type { GenerateRequest, GenerateResult, StreamChunk, Usage } from '../engine/types.js';
import { asObject, bad, checkTokenIds, field } from './json-fields.js';
import { completionLogprobs } from './logprobs.js';
import type { ResponseContext } from './response-context.js';
import { checkMinTokens, checkPromptLength, checkTopLogprobs, readCommon, toUsage, type ModelLimits, type OpenAICommonRequest } from './sampling.js';
import type { Completion } from './types.js';

/** OpenAI's default `max_tokens` for /v1/completions. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

/** A validated /v1/completions request. */
export interface ParsedCompletionRequest extends OpenAICommonRequest {
  /** One engine request per prompt (each is run `n` times). */
  readonly requests: GenerateRequest[];
  /** Legacy `logprobs: N`: alternatives per token; undefined when logprobs were not asked for. */
  readonly logprobs: number | undefined;
}

/**
 * Validates an OpenAI completions request. `prompt` may be a string, a list of strings, a list
 * of token ids or a list of such lists; each prompt becomes one engine request.
 * @throws RequestError naming the wire field (e.g. "prompt[1][3]").
 */
export function completionRequestToGenerate(body: unknown, limits: ModelLimits): ParsedCompletionRequest {
  const obj = asObject(body, 'body');
  const common = readCommon(obj, ['max_tokens'], limits.vocabSize);
  if (field(obj, 'echo') === true) bad('echo', 'echoing the prompt is not supported');
  const suffix = field(obj, 'suffix');
  if (suffix !== undefined && suffix !== '') bad('suffix', 'suffix (insertion) is not supported');
  const logprobsRaw = field(obj, 'logprobs');
  const logprobs = logprobsRaw === undefined ? undefined : checkTopLogprobs(logprobsRaw, 'logprobs');

  const sampling: GenerateRequest = { maxTokens: DEFAULT_COMPLETION_MAX_TOKENS, ...common.sampling };
  checkMinTokens(sampling, 'min_tokens');
  if (logprobs !== undefined) sampling.logprobs = true;
  if (logprobs) sampling.topLogprobs = logprobs;
  const requests = readPrompts(field(obj, 'prompt'), limits).map((p) => ({ ...sampling, ...p }));
  return { ...common, requests, logprobs };
}

/** A completion from its results: `n` choices per prompt, prompt-major, in choice-index order. */
export function toCompletion(results: readonly GenerateResult[], n: number, ctx: ResponseContext, logprobs: number | undefined): Completion {
  return {
    id: ctx.id,
    object: 'text_completion',
    created: ctx.created,
    model: ctx.model,
    choices: results.map((r, index) => ({
      index,
      text: r.text,
      logprobs: logprobs === undefined ? null : completionLogprobs(r.logprobs ?? [], logprobs, ctx.tokenizer, 0),
      finish_reason: r.finishReason,
    })),
    usage: toUsage(
      results.map((r) => r.usage),
      n,
    ),
  };
}

/** Per-chunk settings of {@link toCompletionChunk}. */
export interface CompletionChunkOptions {
  readonly logprobs: number | undefined;
  /** Length of the text this choice has streamed so far (where this chunk's `text_offset` starts). */
  readonly textOffset: number;
  /** With `stream_options.include_usage`, every chunk carries `usage: null`. */
  readonly includeUsage: boolean;
}

/** One SSE chunk of choice `index` from one engine stream chunk. */
export function toCompletionChunk(chunk: StreamChunk, index: number, ctx: ResponseContext, opts: CompletionChunkOptions): Completion {
  return {
    id: ctx.id,
    object: 'text_completion',
    created: ctx.created,
    model: ctx.model,
    choices: [
      {
        index,
        text: chunk.text,
        logprobs:
          opts.logprobs === undefined ? null : completionLogprobs(chunk.logprobs ?? [], opts.logprobs, ctx.tokenizer, opts.textOffset),
        finish_reason: chunk.finishReason ?? null,
      },
    ],
    ...(opts.includeUsage ? { usage: null } : {}),
  };
}

/** The last chunk of a stream with `stream_options.include_usage`: no choices, the usage of all. */
export function toCompletionUsageChunk(usages: readonly Usage[], n: number, ctx: ResponseContext): Completion {
  return { id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, choices: [], usage: toUsage(usages, n) };
}

/**
 * The four shapes of `prompt`, each to `{ prompt }` or `{ inputIds }`. Text is left to the
 * engine to tokenize; token prompts are checked here so errors name the wire field.
 */
function readPrompts(prompt: unknown, limits: ModelLimits): Pick<GenerateRequest, 'prompt' | 'inputIds'>[] {
  const ids = (value: unknown, name: string): { inputIds: number[] } => {
    const inputIds = checkTokenIds(value, name, limits.vocabSize, false);
    checkPromptLength(inputIds, name, limits.contextLength);
    return { inputIds };
  };
  if (typeof prompt === 'string') return [{ prompt }];
  if (!Array.isArray(prompt) || prompt.length === 0) {
    bad('prompt', 'must be a string, a list of strings, a list of token ids or a list of such lists', prompt);
  }
  if (typeof prompt[0] === 'number') return [ids(prompt, 'prompt')];
  return prompt.map((p: unknown, i) => {
    if (typeof p === 'string') return { prompt: p };
    if (Array.isArray(p)) return ids(p, `prompt[${i}]`);
    return bad(`prompt[${i}]`, 'must be a string or a list of token ids', p);
  });
}

