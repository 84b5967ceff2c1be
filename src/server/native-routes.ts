import { randomUUID } from 'node:crypto';
import type { EngineStats } from '../engine/types.js';
import { openStreams, timedGenerate } from './engine-calls.js';
import { loopSlicer, mapSliced, startSliced } from '../engine/time-slicer.js';
import type { JsonObject } from '../openai/json-fields.js';
import { HttpError, sendError, sendJson, sendText, SseWriter } from './http-io.js';
import { sendJsonSliced } from './json-writer.js';
import { parseGenerateBody, type PromptEncoder } from './native-request.js';
import { NativeOutput } from './native-response.js';
import { checkPromptCount, checkPromptTokens, checkQueueRoom } from './request-limits.js';
import { tokenizePrompts } from '../openai/prompt-tokens.js';
import { errorEvent, errorMessage } from './respond.js';
import type { RouteContext } from './route-context.js';
import type { ServedEngine } from './served-engine.js';
import { ARBOR_VERSION } from './version.js';

/** How long /health_generate may take before the server counts as unhealthy. */
export const HEALTH_GENERATE_TIMEOUT_MS = 20_000;

/** GET /health: 200 once the server is up (also while the model loads); 503 when the engine failed. */
export async function health(ctx: RouteContext): Promise<void> {
  const stats = ctx.slot.current?.stats();
  if (ctx.slot.error) sendError(ctx.res, 503, `model failed to load: ${ctx.slot.error.message}`);
  else if (stats && !stats.healthy) sendError(ctx.res, 503, `engine unhealthy: ${stats.error ?? 'unknown error'}`);
  else sendText(ctx.res, 200, '');
}

/** GET /health_generate: generates one token; 503 when that fails or takes over 20 s. */
export async function healthGenerate(ctx: RouteContext): Promise<void> {
  const engine = ctx.engine();
  const timeout = AbortSignal.timeout(HEALTH_GENERATE_TIMEOUT_MS);
  // Token 0 exists in every vocabulary; SGLang's health check sends the same.
  const result = await engine
    .generate({ inputIds: [0], maxTokens: 1, temperature: 0, signal: AbortSignal.any([ctx.signal, timeout]) })
    .catch((err: unknown) => new HttpError(503, `health check failed: ${errorMessage(err)}`));
  if (result instanceof HttpError) throw result;
  if (timeout.aborted) throw new HttpError(503, `health check did not generate a token within ${HEALTH_GENERATE_TIMEOUT_MS / 1000} s`);
  if (result.finishReason === 'abort') throw new HttpError(503, 'health check request was aborted');
  sendText(ctx.res, 200, '');
}

/** GET /get_model_info. */
export async function getModelInfo(ctx: RouteContext): Promise<void> {
  const engine = ctx.engine();
  sendJson(ctx.res, 200, { model_path: engine.modelPath, tokenizer_path: engine.modelPath, is_generation: true });
}

/** GET /get_server_info: launch arguments (SGLang's names), version, and the engine's counters. */
export async function getServerInfo(ctx: RouteContext): Promise<void> {
  const { settings, slot } = ctx;
  const engine = slot.current;
  const o = engine?.options;
  sendJson(ctx.res, 200, {
    version: ARBOR_VERSION,
    status: slot.state,
    served_model_name: settings.servedModelName,
    model_path: engine?.modelPath ?? null,
    tokenizer_path: engine?.modelPath ?? null,
    ...(o && {
      tp_size: o.tp,
      dtype: o.dtype,
      max_running_requests: o.maxRunningRequests,
      // null (SGLang's None) when unlimited: JSON has no Infinity.
      max_queued_requests: Number.isFinite(o.maxQueuedRequests) ? o.maxQueuedRequests : null,
      max_total_tokens: o.kvCacheTokens,
      chunked_prefill_size: o.chunkedPrefillSize,
      schedule_policy: o.schedulePolicy,
      disable_radix_cache: !o.radixCache,
      context_length: o.contextLength,
      threads_per_shard: o.threadsPerShard,
    }),
    enable_metrics: settings.enableMetrics,
    max_body_bytes: settings.maxBodyBytes,
    max_prompts_per_request: settings.limits.maxPromptsPerRequest,
    max_prompt_tokens_per_request: settings.limits.maxPromptTokensPerRequest,
    api_key_set: settings.apiKeySet,
    custom_chat_template: settings.chatTemplate !== undefined,
    ...settings.serverArgs,
    internal_states: engine ? [statsJson(engine.stats())] : [],
  });
}

/** GET|POST /flush_cache: 200 when the radix cache was emptied, 400 while requests are in flight. */
export async function flushCache(ctx: RouteContext): Promise<void> {
  const flushed = await ctx.engine().flushCache();
  if (!flushed) throw new HttpError(400, 'flush_cache: requests are in flight; the cache was not flushed (retry when idle)');
  sendText(ctx.res, 200, 'Cache flushed.\n');
}

/** POST|PUT /generate: SGLang's native generation, single or list input, streaming or not. */
export async function generate(ctx: RouteContext): Promise<void> {
  const engine = ctx.engine();
  const limits = { vocabSize: engine.tokenizer.vocabSize, contextLength: engine.options.contextLength };
  const body = await ctx.body();
  const input = inputField(body);
  const encoder = await textEncoder(ctx, engine, body);
  const parsed = await parseGenerateBody(body, encoder, limits, () => randomUUID().replaceAll('-', ''));
  const reqs = await mapSliced(parsed.items, (item) => ({ ...item.request, signal: ctx.signal }));
  checkPromptCount(reqs.length, input, ctx.settings.limits);
  checkPromptTokens(reqs, input, ctx.settings.limits);
  checkQueueRoom(engine, reqs.length);
  const outputs = await mapSliced(parsed.items, (item) => new NativeOutput(item, parsed.logprob, engine.tokenizer));

  if (!parsed.stream) {
    const done = await Promise.all(await startSliced(reqs, (req) => timedGenerate(engine, req, ctx.metrics)));
    ctx.signal.throwIfAborted();
    const bodies = await mapSliced(done, ({ result, e2e }, i) => {
      outputs[i]!.add(result);
      return outputs[i]!.toJSON(e2e);
    });
    await sendJsonSliced(ctx.res, 200, parsed.batch ? bodies : bodies[0]);
    return;
  }

  const chunks = await openStreams(engine, reqs, ctx.metrics);
  ctx.signal.throwIfAborted();
  const sse = new SseWriter(ctx.res);
  try {
    for await (const { index, chunk, elapsed } of chunks) {
      ctx.signal.throwIfAborted();
      await loopSlicer.turn();
      outputs[index]!.add(chunk);
      const event = outputs[index]!.toJSON(elapsed);
      await sse.send(parsed.batch ? { ...event, index } : event);
    }
    ctx.signal.throwIfAborted();
  } catch (err) {
    await sse.send(errorEvent(err));
  }
  sse.end();
}

/** Which input field a /generate body uses, for errors about the prompts as a whole. */
function inputField(body: unknown): 'text' | 'input_ids' {
  return body !== null && typeof body === 'object' && (body as JsonObject)['text'] != null ? 'text' : 'input_ids';
}

/**
 * Tokenizes the body's `text` prompts off the event loop (the engine's pool) and returns the
 * encoder parseGenerateBody reads them from; refuses too many prompts before tokenizing anything.
 * Entries that are not strings are left to parseGenerateBody, which names them.
 */
async function textEncoder(ctx: RouteContext, engine: ServedEngine, body: unknown): Promise<PromptEncoder> {
  const obj = body !== null && typeof body === 'object' ? (body as JsonObject) : {};
  const text = obj['text'] ?? undefined;
  const ids = obj['input_ids'];
  const list = Array.isArray(text) ? text : text === undefined ? [] : [text];
  checkPromptCount(Array.isArray(ids) && Array.isArray(ids[0]) ? ids.length : list.length, inputField(body), ctx.settings.limits);
  const where: number[] = [];
  const strings: string[] = [];
  list.forEach((t: unknown, i) => typeof t === 'string' && (where.push(i), strings.push(t)));
  const encoded = await tokenizePrompts(engine, strings, (k) => (Array.isArray(text) ? `text[${where[k]}]` : 'text'), ctx.signal);
  const byText = new Map(strings.map((t, k) => [t, encoded[k]!]));
  return { encode: (t) => byText.get(t) ?? engine.tokenizer.encode(t) };
}

function statsJson(s: EngineStats): Record<string, unknown> {
  return {
    num_running_reqs: s.running,
    num_queue_reqs: s.queued,
    kv_slots_used: s.slotsUsed,
    kv_slots_free: s.slotsFree,
    kv_slots_evictable: s.slotsEvictable,
    prompt_tokens_total: s.promptTokensTotal,
    cached_tokens_total: s.cachedTokensTotal,
    generated_tokens_total: s.generatedTokensTotal,
    healthy: s.healthy,
    ...(s.error === undefined ? {} : { error: s.error }),
  };
}
