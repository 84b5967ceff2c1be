import { MessageChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import * as Comlink from 'comlink';
import { EventEmitter } from 'eventemitter3';
import { ActorDiedError, ActorHandle } from '../actors/actor-handle.js';
import { Counter } from '../actors/protocol.js';
import type { ResolvedEngineConfig, SchedulerActorApi, SchedulerMessage, SchedulerSharedState } from '../actors/protocol.js';
import { RequestStream } from './request-stream.js';
import { validateRequest } from './request-validation.js';
import { resolveEngineOptions, resolveModelPath } from './options.js';
import { EngineError } from './errors.js';
import type { EngineOptions, EngineProgress, EngineStats, GenerateRequest, GenerateResult, StreamChunk, TokenLogprob } from './types.js';
import { ModelTokenizer } from '../tokenizer/tokenizer.js';
import { EngineChat } from './chat.js';
import { TokenizerPool } from '../tokenizer/tokenizer-pool.js';
import { loadModelConfig } from '../model/config.js';
import { SlotAllocator, RadixTree } from '../kvcache/index.js';
import type { RadixTreeStats } from '../kvcache/index.js';

/** Events the engine emits (eventemitter3). */
export interface EngineEvents {
  progress: (p: EngineProgress) => void;
  /** A worker died: every pending request was rejected and the engine refuses new ones. */
  failed: (message: string) => void;
  closed: () => void;
}

/**
 * The front actor: the public engine on the caller's thread. It validates and tokenizes requests,
 * hands them to the scheduler actor (a worker thread, which drives the shard workers), and fans
 * the scheduler's per-step events out to per-request async iterators. It never computes.
 */
export class Engine extends EventEmitter<EngineEvents> {
  private readonly streams = new Map<string, RequestStream>();
  private readonly counters: Float64Array;
  private readonly allocator: SlotAllocator;
  private readonly treeStats: RadixTreeStats;
  private failure: string | null = null;
  private closed = false;
  /** OpenAI-shaped chat completions in process: `engine.chat.completions.create({ messages, stream })`. */
  readonly chat: EngineChat;
  private readonly tokenizerPool: TokenizerPool;

  private constructor(
    readonly modelPath: string,
    readonly options: ResolvedEngineConfig,
    readonly tokenizer: ModelTokenizer,
    private readonly actor: ActorHandle<SchedulerActorApi>,
    shared: SchedulerSharedState,
  ) {
    super();
    this.chat = new EngineChat(this);
    this.tokenizerPool = new TokenizerPool(modelPath, tokenizer);
    this.counters = new Float64Array(shared.counters);
    this.allocator = SlotAllocator.fromShared(shared.allocator);
    this.treeStats = RadixTree.view({ stats: shared.treeStats } as Parameters<typeof RadixTree.view>[0]);
  }

  /** Loads a model (default: the bundled arbor-tiny) into a scheduler worker and tp shard workers. */
  static async create(options: EngineOptions = {}): Promise<Engine> {
    const modelPath = resolveModelPath(options);
    const config = resolveEngineOptions(options, modelPath, loadModelConfig(modelPath));
    const tokenizer = await ModelTokenizer.load(modelPath);
    const actor = new ActorHandle<SchedulerActorApi>('scheduler-worker', 'scheduler worker');
    const { port1, port2 } = new MessageChannel();
    let engine: Engine | null = null;
    const early: SchedulerMessage[] = [];
    port1.on('message', (m: SchedulerMessage) => {
      if (m.type === 'progress') options.onProgress?.({ phase: m.phase, done: m.done, total: m.total });
      if (engine) engine.onMessage(m);
      else early.push(m);
    });
    let shared: SchedulerSharedState;
    try {
      shared = await actor.call(actor.api.init(config, Comlink.transfer(port2, [port2 as never])));
    } catch (e) {
      port1.close();
      await actor.stop();
      throw e instanceof ActorDiedError ? new EngineError(`${e.message} while loading`) : e;
    }
    engine = new Engine(modelPath, config, tokenizer, actor, shared);
    actor.onDeath((message) => engine!.fail(message));
    engine.port = port1;
    for (const m of early) engine.onMessage(m);
    return engine;
  }

  private port: MessageChannel['port1'] | null = null;

  private onMessage(m: SchedulerMessage): void {
    if (m.type === 'progress') this.emit('progress', { phase: m.phase, done: m.done, total: m.total });
    else if (m.type === 'fatal') this.fail(m.message);
    else
      for (const ev of m.events) {
        const s = this.streams.get(ev.id);
        if (!s) continue;
        s.push(ev);
        if (s.finished) this.streams.delete(ev.id);
      }
  }

  private fail(message: string): void {
    if (this.failure) return;
    this.failure = message;
    for (const s of this.streams.values()) s.fail(new EngineError(message));
    this.streams.clear();
    this.emit('failed', message);
  }

  /** Streams a request's output; breaking out of the loop or aborting `signal` cancels it and frees its KV. */
  async *stream(req: GenerateRequest): AsyncGenerator<StreamChunk> {
    this.assertUsable();
    const id = randomUUID();
    const schedReq = validateRequest(req, id, this.tokenizer, this.options.contextLength, this.options.kvCacheTokens);
    const signal = req.signal;
    if (signal?.aborted) throw new EngineError('request aborted before it started');
    const s = new RequestStream();
    this.streams.set(id, s);
    const onAbort = () => void this.actor.api.abort(id).catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.actor.api.submit(schedReq);
      yield* s.chunksOut();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!s.finished && !this.closed && !this.failure) {
        // The caller stopped early: cancel and wait for the scheduler to free the request's slots.
        await this.actor.api.abort(id).catch(() => {});
        for await (const _ of s.chunksOut()) void _;
      }
      this.streams.delete(id);
    }
  }

  /** Runs a request to completion. */
  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const tokenIds: number[] = [];
    const logprobs: TokenLogprob[] = [];
    let text = '';
    let last: StreamChunk | null = null;
    for await (const c of this.stream(req)) {
      text += c.text;
      tokenIds.push(...c.tokenIds);
      if (c.logprobs) logprobs.push(...c.logprobs);
      last = c;
    }
    if (!last?.finishReason || !last.usage) throw new EngineError('request ended without a finish reason');
    return {
      text,
      tokenIds,
      finishReason: last.finishReason,
      ...(last.matchedStop !== undefined ? { matchedStop: last.matchedStop } : {}),
      usage: last.usage,
      ...(req.logprobs || req.topLogprobs ? { logprobs } : {}),
      ...(last.promptLogprobs ? { promptLogprobs: last.promptLogprobs } : {}),
    };
  }

  /**
   * Tokenizes many texts; large batches run on a piscina worker pool so this thread keeps serving.
   * @param addSpecialTokens as the tokenizer config says (BOS) unless false. Default true.
   */
  tokenize(texts: readonly string[], addSpecialTokens = true): Promise<number[][]> {
    return this.tokenizerPool.encode(texts, addSpecialTokens);
  }

  /** Decodes many token-id lists (special tokens skipped unless `skipSpecialTokens` is false), pooled like `tokenize`. */
  detokenize(ids: readonly (readonly number[])[], skipSpecialTokens = true): Promise<string[]> {
    return this.tokenizerPool.decode(ids, skipSpecialTokens);
  }

  /** Counters read from shared memory (no round trip to the workers). */
  stats(): EngineStats {
    const c = this.counters;
    const free = this.allocator.freeCount;
    return {
      running: c[Counter.running]!,
      queued: c[Counter.queued]!,
      slotsUsed: this.allocator.capacity - free,
      slotsFree: free,
      slotsEvictable: this.treeStats.evictableTokens,
      cachedTokensTotal: c[Counter.cachedTokens]!,
      promptTokensTotal: c[Counter.promptTokens]!,
      generatedTokensTotal: c[Counter.generatedTokens]!,
      retractionsTotal: c[Counter.retractions]!,
      healthy: !this.failure && !this.closed && c[Counter.healthy] === 1,
      ...(this.failure ? { error: this.failure } : {}),
    };
  }

  /** Empties the radix cache; false (and nothing flushed) while requests are running or queued. */
  async flushCache(): Promise<boolean> {
    this.assertUsable();
    return this.actor.api.flushCache();
  }

  /** Ends every worker; pending requests are rejected. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.fail(new EngineError('engine closed'));
    this.streams.clear();
    await this.tokenizerPool.close();
    await this.actor.stop(() => this.actor.api.shutdown());
    this.port?.close();
    this.emit('closed');
  }

  private assertUsable(): void {
    if (this.closed) throw new EngineError('engine is closed');
    if (this.failure) throw new EngineError(`engine failed: ${this.failure}`);
  }
}
