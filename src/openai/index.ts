/**
 * OpenAI request/response shapes as pure functions: wire request → engine request (validated,
 * errors naming the wire field) and engine results / stream chunks → OpenAI objects. Shared by
 * the HTTP server and the in-process `engine.chat.completions.create`.
 */
export { chatRequestToGenerate, toChatCompletion, toChatCompletionChunk, toChatUsageChunk } from './chat.js';
export type { ChatChunkOptions, ChatRequestOptions, ChatTokenizer, ParsedChatRequest } from './chat.js';
export { completionRequestToGenerate, toCompletion, toCompletionChunk, toCompletionUsageChunk, DEFAULT_COMPLETION_MAX_TOKENS } from './completions.js';
export type { CompletionChunkOptions, ParsedCompletionRequest } from './completions.js';
export { newResponseContext } from './response-context.js';
export type { ResponseContext } from './response-context.js';
export { fanOut, toUsage, MAX_N, MAX_TOP_LOGPROBS } from './sampling.js';
export type { ModelLimits, OpenAICommonRequest } from './sampling.js';
export type { TokenTextSource } from './logprobs.js';
export type * from './types.js';
