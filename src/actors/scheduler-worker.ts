import { parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import { Counter } from './protocol.js';
import type { Progress, RequestEvent, ResolvedEngineConfig, SchedulerActorApi, SchedulerMessage, SchedulerRequest, SchedulerSharedState } from './protocol.js';
import { ModelTokenizer } from '../tokenizer/tokenizer.js';
import { loadModelConfig } from '../model/config.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { ShardPool } from './shard-pool.js';
import { SlotTable } from '../kvcache/index.js';

/**
 * Scheduler actor (worker thread): owns the queue, the radix tree and the slot allocator, runs
 * the continuous-batching loop, and drives the shard actors through the shared step channel.
 */
class SchedulerActor implements SchedulerActorApi {
  private scheduler: Scheduler | null = null;
  private pool: ShardPool | null = null;
  private port: MessagePort | null = null;
  private counters = new Float64Array(new SharedArrayBuffer(Counter.length * 8));
  private wake: (() => void) | null = null;
  private closing = false;
  private loopDone: Promise<void> = Promise.resolve();

  async init(config: ResolvedEngineConfig, port: MessagePort): Promise<SchedulerSharedState> {
    this.port = port;
    const progress = (p: Progress) => this.post({ type: 'progress', ...p });
    const tokenizer = await ModelTokenizer.load(config.modelPath);
    const cfg = loadModelConfig(config.modelPath);
    const maxStepTokens = config.chunkedPrefillSize + config.maxRunningRequests;
    const maxLogitRows = maxStepTokens;
    const slotTable = new SlotTable(config.maxRunningRequests, config.contextLength, config.kvCacheTokens);
    this.pool = new ShardPool(
      config.tp,
      {
        tp: config.tp,
        hiddenSize: cfg.hiddenSize,
        vocabSize: cfg.vocabSize,
        maxStepTokens,
        maxLogitRows,
        maxSequences: config.maxRunningRequests,
        maxSequenceTokens: config.contextLength,
        poolSlots: config.kvCacheTokens,
      },
      slotTable,
    );
    await this.pool.start(
      { modelDir: config.modelPath, tp: config.tp, device: config.device, gpuLock: config.gpuLock, dtype: config.dtype, kvSlots: config.kvCacheTokens, threads: config.threadsPerShard, cacheDir: config.cacheDir },
      config.faults ?? {},
      progress,
      (message) => this.fatal(message),
    );
    this.scheduler = new Scheduler(
      { ...config, vocabSize: cfg.vocabSize, maxLogitRows },
      tokenizer,
      this.pool,
      slotTable,
    );
    this.counters[Counter.healthy] = 1;
    this.loopDone = this.loop();
    return {
      counters: this.counters.buffer as SharedArrayBuffer,
      allocator: this.scheduler.kv.allocator.shared,
      treeStats: this.scheduler.kv.tree.shared.stats,
    };
  }

  /**
   * Queues requests in order (the front sends them in batches: one message per request cost a
   * big batch more than its tokenization). Returns how many were queued: the rest found the
   * queue full (`maxQueuedRequests`) and were not.
   */
  submit(reqs: readonly SchedulerRequest[]): number {
    if (this.counters[Counter.healthy] !== 1) throw new Error('engine is not healthy');
    let queued = 0;
    while (queued < reqs.length && this.scheduler!.submit(reqs[queued]!)) queued++;
    this.updateCounters();
    this.wake?.();
    return queued;
  }

  abort(ids: readonly string[]): void {
    const events: RequestEvent[] = [];
    for (const id of ids) {
      const ev = this.scheduler?.abort(id);
      if (ev) events.push(ev);
    }
    // Counters first: a caller whose request just ended may read stats() at once.
    this.updateCounters();
    if (events.length) this.post({ type: 'events', events });
    this.wake?.();
  }

  flushCache(): boolean {
    return this.scheduler?.flushCache() ?? false;
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    this.wake?.();
    await this.loopDone;
    const events = this.scheduler?.failAll('engine closed') ?? [];
    this.updateCounters();
    if (events.length) this.post({ type: 'events', events });
    await this.pool?.close();
    // Exit once this call's reply is posted: the front waits for the thread to end.
    setImmediate(() => process.exit(0));
  }

  private async loop(): Promise<void> {
    const s = this.scheduler!;
    // Waiting for work (or for the shards, through Atomics.waitAsync) holds no handle; this one does.
    const keepAlive = setInterval(() => {}, 1 << 30);
    while (!this.closing) {
      if (!s.hasWork()) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      const events = await s.step();
      this.updateCounters();
      if (events.length) this.post({ type: 'events', events });
      // A fast step can complete without a macrotask; yield so submit/abort messages get in.
      await new Promise((resolve) => setImmediate(resolve));
    }
    clearInterval(keepAlive);
  }

  private fatal(message: string): void {
    this.counters[Counter.healthy] = 0;
    // 'fatal' first, so the front knows why before any request sees its error.
    this.post({ type: 'fatal', message });
    const events = this.scheduler?.failAll(message) ?? [];
    if (this.scheduler) this.updateCounters();
    if (events.length) this.post({ type: 'events', events });
  }

  private updateCounters(): void {
    const s = this.scheduler!;
    const c = this.counters;
    c[Counter.running] = s.runningCount;
    c[Counter.queued] = s.queuedCount;
    c[Counter.promptTokens] = s.totals.promptTokens;
    c[Counter.cachedTokens] = s.totals.cachedTokens;
    c[Counter.generatedTokens] = s.totals.generatedTokens;
    c[Counter.steps] = s.totals.steps;
    c[Counter.retractions] = s.totals.retractions;
  }

  private post(m: SchedulerMessage): void {
    this.port?.postMessage(m);
  }
}

Comlink.expose(new SchedulerActor(), nodeEndpoint(parentPort!));
