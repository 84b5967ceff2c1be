import { basename } from 'node:path';
import type { GenerateRequest, GenerateResult, StreamChunk, Usage } from './types.js';
import { chatRequestToGenerate, fanOut, newResponseContext, toChatCompletion, toChatCompletionChunk, toChatUsageChunk } from '../openai/index.js';
import type { ChatCompletion, ChatCompletionChunk } from '../openai/index.js';
import type { ModelTokenizer } from '../tokenizer/tokenizer.js';
import { openMergedStreams } from './merged-streams.js';
import { tokenizePrompts, type PromptTokenizer } from '../openai/prompt-tokens.js';

/** What chat completions need of the engine. */
export interface ChatBackend extends PromptTokenizer {
  readonly modelPath: string;
  readonly tokenizer: ModelTokenizer;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  stream(req: GenerateRequest): AsyncGenerator<StreamChunk>;
}

/** An OpenAI chat request body (`messages`, `max_tokens`, `temperature`, `stream`, `n`, …) plus an optional AbortSignal. */
export type ChatCompletionRequest = Record<string, unknown> & { messages: unknown; stream?: boolean; signal?: AbortSignal };

/**
 * `engine.chat.completions.create()`: OpenAI's request and response shapes in process, with the
 * same validation and conversion as the server's /v1/chat/completions.
 */
export class EngineChat {
  readonly completions: {
    create(body: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
    create(body: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
    create(body: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  };

  constructor(private readonly engine: ChatBackend) {
    this.completions = { create: ((body: ChatCompletionRequest) => this.create(body)) as EngineChat['completions']['create'] };
  }

  private async create(body: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const { signal, ...wire } = body;
    const e = this.engine;
    const parsed = await chatRequestToGenerate(wire, e.tokenizer, {
      contextLength: e.options.contextLength,
      // A long conversation is tokenized off the caller's thread.
      encode: async (text) => (await tokenizePrompts(e, [text], () => 'messages', signal, false))[0]!,
    });
    const model = typeof wire['model'] === 'string' ? wire['model'] : basename(e.modelPath);
    const ctx = newResponseContext('chatcmpl', model, e.tokenizer);
    const requests = fanOut(signal ? { ...parsed.request, signal } : parsed.request, parsed.n);
    if (!parsed.stream) return toChatCompletion(await Promise.all(requests.map((r) => e.generate(r))), ctx, parsed.logprobs);
    const includeUsage = parsed.includeUsage;
    // All n choices run at once (as the server runs them), their chunks in arrival order.
    const merged = await openMergedStreams(e, requests);
    async function* chunks(): AsyncGenerator<ChatCompletionChunk> {
      const usages: Usage[] = [];
      const started = new Set<number>();
      for await (const { index, chunk } of merged) {
        yield toChatCompletionChunk(chunk, index, ctx, { logprobs: parsed.logprobs, includeUsage, first: !started.has(index) });
        started.add(index);
        if (chunk.usage) usages[index] = chunk.usage;
      }
      if (includeUsage) yield toChatUsageChunk(usages, requests.length, ctx);
    }
    return chunks();
  }
}
