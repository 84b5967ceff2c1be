import { MessageChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import * as Comlink from 'comlink';
import { EventEmitter } from 'eventemitter3';
import { ActorDiedError, ActorHandle } from '../actors/actor-handle.js';
import { Counter } from '../actors/protocol.js';
import type { RequestEvent, ResolvedEngineConfig, SchedulerActorApi, SchedulerMessage, SchedulerSharedState } from '../actors/protocol.js';
import { RequestStream } from './request-stream.js';
import { validateRequest } from './request-validation.js';
import { resolveEngineOptions, resolveModelPath } from './options.js';
import { EngineError, EngineStateError, QueueFullError, TokenLimitError } from './errors.js';
import type {
  EngineOptions,
  EngineProgress,
  EngineStats,
  GenerateRequest,
  GenerateResult,
  StreamChunk,
  TokenizeOptions,
  TokenLogprob,
} from './types.js';
import { ModelTokenizer } from '../tokenizer/tokenizer.js';
import { EngineChat } from './chat.js';
import { idArray, POOL_CHARS, TokenizerPool, type TokenIds } from '../tokenizer/tokenizer-pool.js';
import { AbortFanout } from './abort-fanout.js';
import { SubmitBatcher } from './submit-batcher.js';
import { Activity } from './activity.js';
import { loopSlicer, mapSliced } from './time-slicer.js';
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
  /** Event batches from the scheduler not yet handed to their streams, oldest first. */
  private readonly inbox: RequestEvent[][] = [];
  /** Set by the first close(); every later call returns it. */
  private closing: Promise<void> | null = null;
  /** OpenAI-shaped chat completions in process: `engine.chat.completions.create({ messages, stream })`. */
  readonly chat: EngineChat;
  private readonly tokenizerPool: TokenizerPool;
  private readonly activity: Activity;
  private readonly submits = new SubmitBatcher((reqs) => this.actor.api.submit(reqs));
  private readonly aborts = new AbortFanout((ids) => this.abort(ids));

  private constructor(
    readonly modelPath: string,
    readonly options: ResolvedEngineConfig,
    readonly tokenizer: ModelTokenizer,
    private readonly actor: ActorHandle<SchedulerActorApi>,
    shared: SchedulerSharedState,
    private readonly port: MessageChannel['port1'],
  ) {
    super();
    this.chat = new EngineChat(this);
    this.tokenizerPool = new TokenizerPool(modelPath, tokenizer);
    this.activity = new Activity([actor, port]);
    this.counters = new Float64Array(shared.counters);
    this.allocator = SlotAllocator.fromShared(shared.allocator);
    this.treeStats = RadixTree.view({ stats: shared.treeStats } as Parameters<typeof RadixTree.view>[0]);
  }

  /**
   * Loads a model (default: the bundled arbor-tiny) into a scheduler worker and tp shard workers.
   * The workers keep the process alive only while requests are in flight: a script may end
   * without `close()` (which frees them at once).
   */
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
    engine = new Engine(modelPath, config, tokenizer, actor, shared, port1);
    actor.onDeath((message) => engine!.fail(message));
    for (const m of early) engine.onMessage(m);
    return engine;
  }

  private onMessage(m: SchedulerMessage): void {
    if (m.type === 'progress') this.emit('progress', { phase: m.phase, done: m.done, total: m.total });
    else if (m.type === 'fatal') this.fail(m.message);
    else {
      this.inbox.push(m.events);
      if (this.inbox.length === 1) void this.deliver();
    }
  }

  /**
   * Hands the scheduler's events to their streams, a slice at a time: while this thread was busy,
   * dozens of step messages may have queued up, and thousands of requests finishing in one go
   * (each resuming its caller) held up the event loop.
   */
  private async deliver(): Promise<void> {
    while (this.inbox.length > 0) {
      for (const ev of this.inbox[0]!) {
        await loopSlicer.turn();
        const s = this.streams.get(ev.id);
        if (!s) continue;
        s.push(ev);
        if (s.finished) this.streams.delete(ev.id);
      }
      this.inbox.shift();
    }
  }

  private fail(message: string): void {
    if (this.failure) return;
    this.failure = message;
    for (const s of this.streams.values()) s.fail(new EngineError(message));
    this.streams.clear();
    this.emit('failed', message);
  }

  /**
   * Streams a request's output; breaking out of the loop or aborting `signal` cancels it and frees
   * its KV. An aborted request ends with finishReason 'abort' whenever the abort comes — before it
   * started (no output), while it waits or while it runs (the output so far) — as SGLang reports it.
   * @throws RequestError naming a bad field; QueueFullError when `maxQueuedRequests` are waiting;
   *   EngineStateError once the engine is closed or failed.
   */
  async *stream(req: GenerateRequest): AsyncGenerator<StreamChunk> {
    this.assertUsable();
    this.activity.begin();
    try {
      yield* this.run(req);
    } finally {
      this.activity.end();
    }
  }

  private async *run(req: GenerateRequest): AsyncGenerator<StreamChunk> {
    // Thousands of requests started at once (a list input, a runBatch) are validated and
    // submitted a slice at a time, so the caller's event loop keeps serving meanwhile.
    await loopSlicer.turn();
    this.assertUsable();
    const id = randomUUID();
    let promptIds: TokenIds | undefined;
    try {
      promptIds = await this.encodeLongPrompt(req);
    } catch (e) {
      if (!req.signal?.aborted) throw e;
      yield aborted(0);
      return;
    }
    const schedReq = validateRequest(req, id, this.tokenizer, this.options.contextLength, this.options.kvCacheTokens, promptIds);
    const signal = req.signal;
    if (signal?.aborted) {
      yield aborted(schedReq.inputIds.length);
      return;
    }
    const s = new RequestStream();
    this.streams.set(id, s);
    if (signal) this.aborts.watch(signal, id);
    let queued = false;
    try {
      const outcome = await this.submits.submit(schedReq);
      if (outcome === 'full') throw new QueueFullError(this.options.maxQueuedRequests);
      if (outcome === 'cancelled') {
        yield aborted(schedReq.inputIds.length);
        return;
      }
      queued = true;
      yield* s.chunksOut();
    } finally {
      if (signal) this.aborts.unwatch(signal, id);
      if (queued && !s.finished && this.closing === null && !this.failure) {
        // The caller stopped early: cancel and wait for the scheduler to free the request's slots.
        await this.actor.api.abort([id]).catch(() => {});
        for await (const _ of s.chunksOut()) void _;
      }
      this.streams.delete(id);
    }
  }

  /** Cancels requests: those still in an unsent batch are taken back, the others aborted in the scheduler. */
  private abort(ids: readonly string[]): void {
    const sent = this.submits.cancel(ids);
    if (sent.length) void this.actor.api.abort(sent).catch(() => {});
  }

  /** A long text prompt, tokenized on the pool; undefined when it is short (or not text: validation says so). */
  private async encodeLongPrompt(req: GenerateRequest): Promise<TokenIds | undefined> {
    const prompt = req !== null && typeof req === 'object' ? req.prompt : undefined;
    if (typeof prompt !== 'string' || prompt.length < POOL_CHARS) return undefined;
    const signal = req.signal instanceof AbortSignal ? req.signal : undefined;
    return (await this.tokenizerPool.encode([prompt], true, signal))[0];
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
   * Tokenizes many texts. Large jobs (256 texts or more, or 16,384 characters or more in all) run
   * on a piscina worker pool, so this thread keeps serving meanwhile.
   * @param addSpecialTokens as the tokenizer config says (BOS) unless false. Default true.
   * @throws EngineStateError after close(); TokenLimitError for a text over `options.maxTokens`;
   *   the signal's reason when `options.signal` aborts (the job's workers stop).
   */
  async tokenize(texts: readonly string[], addSpecialTokens = true, options: TokenizeOptions = {}): Promise<number[][]> {
    this.assertOpen('tokenize');
    const ids = await this.tokenizerPool.encode(texts, addSpecialTokens, options.signal);
    const limit = options.maxTokens;
    if (limit !== undefined) {
      const over = ids.findIndex((x) => x.length > limit);
      if (over >= 0) throw new TokenLimitError(over, ids[over]!.length, limit);
    }
    // Copied a slice at a time: a batch of 200,000 prompts is 200,000 arrays.
    return mapSliced(ids, idArray);
  }

  /**
   * Decodes many token-id lists (special tokens skipped unless `skipSpecialTokens` is false), pooled like `tokenize`.
   * @throws EngineStateError after close().
   */
  async detokenize(ids: readonly (readonly number[])[], skipSpecialTokens = true, options: Pick<TokenizeOptions, 'signal'> = {}): Promise<string[]> {
    this.assertOpen('detokenize');
    return this.tokenizerPool.decode(ids, skipSpecialTokens, options.signal);
  }

  /** Counters read from shared memory (no round trip to the workers); after close(): nothing running or queued, not healthy. */
  stats(): EngineStats {
    const c = this.counters;
    const free = this.allocator.freeCount;
    const open = this.closing === null;
    return {
      running: open ? c[Counter.running]! : 0,
      queued: open ? c[Counter.queued]! : 0,
      slotsUsed: this.allocator.capacity - free,
      slotsFree: free,
      slotsEvictable: this.treeStats.evictableTokens,
      cachedTokensTotal: c[Counter.cachedTokens]!,
      promptTokensTotal: c[Counter.promptTokens]!,
      generatedTokensTotal: c[Counter.generatedTokens]!,
      retractionsTotal: c[Counter.retractions]!,
      healthy: !this.failure && open && c[Counter.healthy] === 1,
      ...(this.failure ? { error: this.failure } : {}),
    };
  }

  /** Empties the radix cache; false (and nothing flushed) while requests are running or queued. */
  async flushCache(): Promise<boolean> {
    this.assertUsable();
    return this.activity.during(() => this.actor.api.flushCache());
  }

  /**
   * Ends every worker; pending requests are rejected with EngineStateError. Every call, also one
   * made while the first is still running, returns the same promise.
   */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    // The process must live until the workers have ended (never ended: the engine is done).
    this.activity.begin();
    for (const s of this.streams.values()) s.fail(new EngineStateError('closed', 'engine closed'));
    this.streams.clear();
    await this.tokenizerPool.close();
    await this.actor.stop(() => this.actor.api.shutdown());
    this.port.close();
    this.emit('closed');
  }

  private assertOpen(call: string): void {
    if (this.closing !== null) throw new EngineStateError('closed', `engine is closed (${call} after close())`);
  }

  private assertUsable(): void {
    if (this.closing !== null) throw new EngineStateError('closed', 'engine is closed');
    if (this.failure) throw new EngineStateError('failed', `engine failed: ${this.failure}`);
  }
}

/** The one chunk of a request aborted before the scheduler got it. */
function aborted(promptTokens: number): StreamChunk {
  return { text: '', tokenIds: [], finishReason: 'abort', usage: { promptTokens, completionTokens: 0, cachedTokens: 0 } };
}
