import type { GenerateRequest, GenerateResult, StreamChunk, Usage } from '../engine/types.js';
import type { ChatMessage } from '../tokenizer/chat-template.js';
import type { ChatTemplateOptions } from '../tokenizer/tokenizer.js';
import { ChatTemplateError } from '../tokenizer/errors.js';
import { asObject, bad, field, optBoolean, refuse, type JsonObject } from './json-fields.js';
import { chatLogprobContent, type TokenTextSource } from './logprobs.js';
import type { ResponseContext } from './response-context.js';
import { checkMinTokens, checkPromptLength, checkTopLogprobs, readCommon, toUsage, type OpenAICommonRequest } from './sampling.js';
import type { ChatCompletion, ChatCompletionChunk, ChatChoiceLogprobs } from './types.js';

/** The tokenizer calls a chat request needs (ModelTokenizer has them). */
export interface ChatTokenizer extends TokenTextSource {
  readonly vocabSize: number;
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
}

/** Server-wide settings that shape a chat request. */
export interface ChatRequestOptions {
  /** A Jinja template used instead of the model's (`--chat-template`). */
  readonly chatTemplate?: string;
  /** The engine's context length: without `max_tokens`, a reply may fill the rest of it. */
  readonly contextLength: number;
  /**
   * Tokenizes the rendered conversation (special tokens not added), e.g. off the event loop for a
   * long one (see tokenizePrompts). Default: `tokenizer.encode` on this thread.
   */
  readonly encode?: (text: string) => Promise<number[]>;
}

/** A validated /v1/chat/completions request. */
export interface ParsedChatRequest extends OpenAICommonRequest {
  /** The rendered conversation as token ids, with the sampling options. */
  readonly request: GenerateRequest;
  /** `logprobs: true`: return each token's logprob. */
  readonly logprobs: boolean;
  /** `top_logprobs`: alternatives per token (0 with logprobs off). */
  readonly topLogprobs: number;
}

// `developer` is OpenAI's newer name for `system`; chat templates only know the latter. A Map, not
// an object literal: `"constructor" in {…}` is true, and that role once rendered JavaScript source.
const ROLES: ReadonlyMap<string, string> = new Map([
  ['system', 'system'],
  ['developer', 'system'],
  ['user', 'user'],
  ['assistant', 'assistant'],
  ['tool', 'tool'],
]);

/**
 * Validates an OpenAI chat request and turns it into an engine request: messages rendered with
 * the chat template and tokenized (the template writes its own special tokens), sampling fields
 * mapped. Without `max_tokens` / `max_completion_tokens` the reply may use the rest of the context.
 * @throws RequestError naming the wire field (e.g. "messages[2].role").
 */
export async function chatRequestToGenerate(body: unknown, tokenizer: ChatTokenizer, options: ChatRequestOptions): Promise<ParsedChatRequest> {
  const obj = asObject(body, 'body');
  const common = readCommon(obj, ['max_completion_tokens', 'max_tokens'], tokenizer.vocabSize);
  const messages = readMessages(obj);
  const tools = field(obj, 'tools');
  if (tools !== undefined && !(Array.isArray(tools) && tools.length === 0)) bad('tools', 'tool calling is not supported');
  refuse(obj, 'functions', 'functions', 'function calling is not supported');

  const logprobs = optBoolean(obj, 'logprobs', 'logprobs') ?? false;
  const topRaw = field(obj, 'top_logprobs');
  const topLogprobs = topRaw === undefined ? 0 : checkTopLogprobs(topRaw, 'top_logprobs');
  if (topLogprobs > 0 && !logprobs) bad('top_logprobs', 'requires "logprobs": true');

  let text: string;
  try {
    text = tokenizer.applyChatTemplate(messages, {
      addGenerationPrompt: true,
      ...(options.chatTemplate === undefined ? {} : { template: options.chatTemplate }),
    });
  } catch (err) {
    if (err instanceof ChatTemplateError) bad('messages', err.message);
    throw err;
  }
  const inputIds = options.encode ? await options.encode(text) : tokenizer.encode(text, { addSpecialTokens: false });

  checkPromptLength(inputIds, 'messages', options.contextLength);

  // Without a limit the reply may fill the context (the engine caps any limit the same way).
  const request: GenerateRequest = { maxTokens: options.contextLength - inputIds.length, ...common.sampling, inputIds };
  checkMinTokens(request, 'min_tokens');
  if (logprobs) request.logprobs = true;
  if (topLogprobs > 0) request.topLogprobs = topLogprobs;
  return { ...common, request, logprobs, topLogprobs };
}

/** A chat completion from the results of its `n` choices, in choice order. */
export function toChatCompletion(results: readonly GenerateResult[], ctx: ResponseContext, logprobs: boolean): ChatCompletion {
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    choices: results.map((r, index) => ({
      index,
      message: { role: 'assistant', content: r.text, refusal: null },
      logprobs: logprobs ? choiceLogprobs(r.logprobs, ctx) : null,
      finish_reason: r.finishReason,
    })),
    usage: toUsage(
      results.map((r) => r.usage),
      results.length,
    ),
  };
}

/** Per-stream settings of {@link toChatCompletionChunk}. */
export interface ChatChunkOptions {
  readonly logprobs: boolean;
  /** With `stream_options.include_usage`, every chunk carries `usage: null`. */
  readonly includeUsage: boolean;
  /** The first chunk of a choice also announces the assistant role. */
  readonly first: boolean;
}

/** One SSE chunk of choice `index` from one engine stream chunk. */
export function toChatCompletionChunk(chunk: StreamChunk, index: number, ctx: ResponseContext, opts: ChatChunkOptions): ChatCompletionChunk {
  const delta: ChatCompletionChunk['choices'][number]['delta'] = opts.first ? { role: 'assistant' } : {};
  if (chunk.text !== '' || opts.first) delta.content = chunk.text;
  return {
    id: ctx.id,
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: ctx.model,
    choices: [
      {
        index,
        delta,
        logprobs: opts.logprobs ? choiceLogprobs(chunk.logprobs, ctx) : null,
        finish_reason: chunk.finishReason ?? null,
      },
    ],
    ...(opts.includeUsage ? { usage: null } : {}),
  };
}

/** The last chunk of a stream with `stream_options.include_usage`: no choices, the usage of all. */
export function toChatUsageChunk(usages: readonly Usage[], n: number, ctx: ResponseContext): ChatCompletionChunk {
  return { id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model, choices: [], usage: toUsage(usages, n) };
}

function choiceLogprobs(tokens: GenerateResult['logprobs'], ctx: ResponseContext): ChatChoiceLogprobs {
  return { content: chatLogprobContent(tokens ?? [], ctx.tokenizer), refusal: null };
}

function readMessages(body: JsonObject): ChatMessage[] {
  const raw = field(body, 'messages');
  if (!Array.isArray(raw) || raw.length === 0) bad('messages', 'must be a non-empty list of messages', raw);
  return raw.map((value: unknown, i) => {
    const name = `messages[${i}]`;
    const message = asObject(value, name);
    const role = message['role'];
    const templateRole = typeof role === 'string' ? ROLES.get(role) : undefined;
    if (templateRole === undefined) bad(`${name}.role`, `must be one of ${[...ROLES.keys()].join(', ')}`, role);
    if (field(message, 'tool_calls') !== undefined) bad(`${name}.tool_calls`, 'tool calling is not supported');
    return { role: templateRole, content: readContent(message, name, role === 'assistant') };
  });
}

/** A message's content: a string, or a list of text parts (joined by newlines, as vLLM does). */
function readContent(message: JsonObject, name: string, mayBeNull: boolean): string {
  const content = field(message, 'content');
  if (typeof content === 'string') return content;
  if (content === undefined && mayBeNull) return '';
  if (!Array.isArray(content)) bad(`${name}.content`, 'must be a string or a list of content parts', content);
  return content
    .map((part: unknown, j) => {
      const partName = `${name}.content[${j}]`;
      const p = asObject(part, partName);
      if (p['type'] !== 'text') bad(`${partName}.type`, 'only "text" parts are supported', p['type']);
      if (typeof p['text'] !== 'string') bad(`${partName}.text`, 'must be a string', p['text']);
      return p['text'];
    })
    .join('\n');
}
