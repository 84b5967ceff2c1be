import type { GenerateRequest, Usage } from '../engine/types.js';
import { chatRequestToGenerate, toChatCompletion, toChatCompletionChunk, toChatUsageChunk } from '../openai/chat.js';
import { completionRequestToGenerate, toCompletion, toCompletionChunk, toCompletionUsageChunk } from '../openai/completions.js';
import { newResponseContext } from '../openai/response-context.js';
import { fanOut } from '../openai/sampling.js';
import type { Model } from '../openai/types.js';
import { loopSlicer, mapSliced, startSliced } from '../engine/time-slicer.js';
import { openStreams, timedGenerate, type TaggedChunk } from './engine-calls.js';
import { sendJson, SseWriter } from './http-io.js';
import { sendJsonSliced } from './json-writer.js';
import { checkPromptCount, checkPromptTokens, checkQueueRoom } from './request-limits.js';
import { tokenizePrompts } from '../openai/prompt-tokens.js';
import { errorEvent } from './respond.js';
import type { RouteContext } from './route-context.js';
import type { ServedEngine } from './served-engine.js';

/** GET /v1/models: the one served model (answers while the model loads, too). */
export async function listModels(ctx: RouteContext): Promise<void> {
  const model: Model = { id: ctx.settings.servedModelName, object: 'model', created: ctx.settings.startedAt, owned_by: 'arbor' };
  sendJson(ctx.res, 200, { object: 'list', data: [model] });
}

/** POST /v1/completions. */
export async function completions(ctx: RouteContext): Promise<void> {
  const engine = ctx.engine();
  const parsed = completionRequestToGenerate(await ctx.body(), {
    vocabSize: engine.tokenizer.vocabSize,
    contextLength: engine.options.contextLength,
  });
  checkPromptCount(parsed.requests.length * parsed.n, 'prompt', ctx.settings.limits);
  const prompts = await withTokenIds(ctx, engine, parsed.requests);
  const reqs = (await mapSliced(prompts, (req) => fanOut({ ...req, signal: ctx.signal }, parsed.n))).flat();
  checkPromptTokens(reqs, 'prompt', ctx.settings.limits);
  checkQueueRoom(engine, reqs.length);
  const rc = newResponseContext('cmpl', ctx.settings.servedModelName, engine.tokenizer);

  if (!parsed.stream) {
    const results = await runAll(ctx, engine, reqs);
    await sendJsonSliced(ctx.res, 200, toCompletion(results, parsed.n, rc, parsed.logprobs));
    return;
  }
  // Where each choice's next text_offset starts: the length of what it has streamed so far.
  const offsets = new Array<number>(reqs.length).fill(0);
  await streamChoices(ctx, engine, reqs, {
    chunk({ index, chunk }) {
      const out = toCompletionChunk(chunk, index, rc, { logprobs: parsed.logprobs, textOffset: offsets[index]!, includeUsage: parsed.includeUsage });
      offsets[index]! += chunk.text.length;
      return out;
    },
    usage: parsed.includeUsage ? (usages) => toCompletionUsageChunk(usages, parsed.n, rc) : undefined,
  });
}

/** POST /v1/chat/completions. */
export async function chatCompletions(ctx: RouteContext): Promise<void> {
  const engine = ctx.engine();
  const parsed = await chatRequestToGenerate(await ctx.body(), engine.tokenizer, {
    contextLength: engine.options.contextLength,
    ...(ctx.settings.chatTemplate === undefined ? {} : { chatTemplate: ctx.settings.chatTemplate }),
    encode: async (text) => (await tokenizePrompts(engine, [text], () => 'messages', ctx.signal, false))[0]!,
  });
  const reqs = fanOut({ ...parsed.request, signal: ctx.signal }, parsed.n);
  checkPromptCount(reqs.length, 'n', ctx.settings.limits);
  checkPromptTokens(reqs, 'messages', ctx.settings.limits);
  checkQueueRoom(engine, reqs.length);
  const rc = newResponseContext('chatcmpl', ctx.settings.servedModelName, engine.tokenizer);

  if (!parsed.stream) {
    const results = await runAll(ctx, engine, reqs);
    sendJson(ctx.res, 200, toChatCompletion(results, rc, parsed.logprobs));
    return;
  }
  const started = new Set<number>();
  await streamChoices(ctx, engine, reqs, {
    chunk({ index, chunk }) {
      const first = !started.has(index);
      started.add(index);
      return toChatCompletionChunk(chunk, index, rc, { logprobs: parsed.logprobs, includeUsage: parsed.includeUsage, first });
    },
    usage: parsed.includeUsage ? (usages) => toChatUsageChunk(usages, parsed.n, rc) : undefined,
  });
}

async function runAll(ctx: RouteContext, engine: ServedEngine, reqs: GenerateRequest[]) {
  const results = await Promise.all(await startSliced(reqs, async (req) => (await timedGenerate(engine, req, ctx.metrics)).result));
  ctx.signal.throwIfAborted();
  return results;
}

/**
 * The completion prompts with their text tokenized off the event loop (the engine's pool), each
 * refused by length naming `prompt[i]`, so the engine gets token ids and the request's prompt
 * tokens can be counted before anything runs.
 */
async function withTokenIds(ctx: RouteContext, engine: ServedEngine, requests: readonly GenerateRequest[]): Promise<GenerateRequest[]> {
  const texts: string[] = [];
  const where: number[] = [];
  requests.forEach((r, i) => r.prompt !== undefined && (texts.push(r.prompt), where.push(i)));
  const single = requests.length === 1;
  const encoded = await tokenizePrompts(engine, texts, (k) => (single ? 'prompt' : `prompt[${where[k]}]`), ctx.signal);
  let k = 0;
  return mapSliced(requests, ({ prompt, ...rest }) => (prompt === undefined ? rest : { ...rest, inputIds: encoded[k++]! }));
}

/** How one OpenAI route renders its stream. */
interface ChunkRenderer {
  chunk(tagged: TaggedChunk): unknown;
  /** The closing usage chunk (stream_options.include_usage), given each choice's usage in order. */
  usage: ((usages: Usage[]) => unknown) | undefined;
}

/**
 * Streams every choice's chunks as SSE in arrival order, then the usage chunk, then `[DONE]`.
 * An engine error mid-stream becomes an `{"error": …}` event, which the openai client raises.
 */
async function streamChoices(ctx: RouteContext, engine: ServedEngine, reqs: GenerateRequest[], render: ChunkRenderer): Promise<void> {
  const chunks = await openStreams(engine, reqs, ctx.metrics);
  ctx.signal.throwIfAborted();
  const sse = new SseWriter(ctx.res);
  const usages: Usage[] = [];
  try {
    for await (const tagged of chunks) {
      ctx.signal.throwIfAborted();
      await loopSlicer.turn();
      if (tagged.chunk.usage) usages[tagged.index] = tagged.chunk.usage;
      await sse.send(render.chunk(tagged));
    }
    ctx.signal.throwIfAborted();
    if (render.usage) await sse.send(render.usage(usages));
  } catch (err) {
    await sse.send(errorEvent(err));
  }
  sse.end();
}
