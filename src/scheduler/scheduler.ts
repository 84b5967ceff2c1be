import type { ModelTokenizer } from '../tokenizer/tokenizer.js';
import type { StepDescriptor, StepSequence } from '../shards/step.js';
import type { SlotTable } from '../kvcache/index.js';
import { KvManager } from './kv-manager.js';
import { OutputProcessor } from './output-processor.js';
import type { Finish } from './output-processor.js';
import { RequestState } from './request-state.js';
import type { RequestEvent, ResolvedEngineConfig, SchedulerRequest } from '../actors/protocol.js';
import { WaitingQueue } from './waiting-queue.js';

/** Runs a forward step somewhere (in-thread shards, or shard workers) and returns logits [rows, vocab]. */
export interface StepExecutor {
  forward(step: StepDescriptor): Promise<Float32Array>;
}

/** Scheduler limits: the engine's resolved options plus the model's vocabulary and the logits buffer's size. */
export type SchedulerConfig = Pick<
  ResolvedEngineConfig,
  'kvCacheTokens' | 'maxRunningRequests' | 'chunkedPrefillSize' | 'schedulePolicy' | 'radixCache' | 'contextLength' | 'maxQueuedRequests'
> & {
  readonly vocabSize: number;
  /** Most logits rows one step may return (sizes the logits buffer). */
  readonly maxLogitRows: number;
};

/**
 * Admission keeps free + evictable KV for this share of each running request's remaining output
 * (at most RESERVE_CAP tokens each), so new requests rarely push running ones into retraction.
 */
const RESERVE_RATIO = 0.5;
const RESERVE_CAP = 128;

/** Above this many waiting requests, lpm's per-request prefix matching costs more than it saves. */
const LPM_QUEUE_LIMIT = 128;

interface Planned {
  readonly r: RequestState;
  readonly seq: StepSequence;
  /** Position of the first new token. */
  readonly start: number;
}

/**
 * Continuous batching over a radix KV cache: every step mixes one decode token per running request
 * with prefill chunks of newly admitted or still-prefilling requests; out of slots it evicts cache
 * leaves, then retracts the request with the least output (re-queued, never dropped).
 */
export class Scheduler {
  readonly kv: KvManager;
  private readonly waiting = new WaitingQueue<RequestState>();
  private readonly running: RequestState[] = [];
  private readonly byId = new Map<string, RequestState>();
  private readonly out: OutputProcessor;
  private arrivals = 0;
  readonly totals = { promptTokens: 0, cachedTokens: 0, generatedTokens: 0, steps: 0, retractions: 0 };

  constructor(
    private readonly cfg: SchedulerConfig,
    private readonly tokenizer: ModelTokenizer,
    private readonly executor: StepExecutor,
    /** The slot table the executor's shards read (default: a private one, for in-thread executors). */
    slotTable?: SlotTable,
  ) {
    this.kv = new KvManager(cfg.kvCacheTokens, cfg.radixCache, slotTable ?? { rows: cfg.maxRunningRequests, width: cfg.contextLength });
    this.out = new OutputProcessor(tokenizer, cfg.vocabSize, cfg.contextLength);
  }

  get runningCount(): number {
    return this.running.length;
  }
  get queuedCount(): number {
    return this.waiting.length;
  }
  hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  /** Queues a request; false (nothing queued) when `maxQueuedRequests` are already waiting. */
  submit(req: SchedulerRequest): boolean {
    if (this.byId.has(req.id)) throw new Error(`request id "${req.id}" is already in use`);
    if (this.waiting.length >= this.cfg.maxQueuedRequests) return false;
    const r = new RequestState(req, this.tokenizer, this.arrivals++);
    this.byId.set(req.id, r);
    this.waiting.push(r);
    this.totals.promptTokens += req.inputIds.length;
    return true;
  }

  /** Cancels a request; its event is produced by the next `step` (or returned now when it was waiting). */
  abort(id: string): RequestEvent | null {
    const r = this.byId.get(id);
    if (!r) return null;
    if (this.waiting.remove(r)) {
      this.kv.release(r);
      this.byId.delete(id);
      return this.out.event(r, { reason: 'abort' });
    }
    r.aborted = true;
    return null;
  }

  /** Ends every request with an error (a failed step or shutdown). */
  failAll(message: string): RequestEvent[] {
    const events = [...this.running, ...this.waiting].map((r) => this.finish(r, { reason: 'abort' }, message, false));
    this.running.length = 0;
    this.waiting.clear();
    return events;
  }

  flushCache(): boolean {
    return this.hasWork() ? false : this.kv.flush();
  }

  /** One scheduling step: build a batch, run it, sample, and return the events to publish. */
  async step(): Promise<RequestEvent[]> {
    const events: RequestEvent[] = [];
    this.reapAborted(events);
    const plan = this.buildBatch();
    if (plan.length === 0) return events;
    let logits: Float32Array;
    try {
      logits = await this.executor.forward({ sequences: plan.map((p) => p.seq) });
    } catch (e) {
      const message = `step failed: ${(e as Error).message}`;
      for (const p of plan) {
        this.kv.allocator.free(p.seq.newSlots);
        const i = this.running.indexOf(p.r);
        if (i < 0) continue; // already ended (failAll while the step ran)
        this.running.splice(i, 1);
        events.push(this.finish(p.r, { reason: 'abort' }, message, false));
      }
      return events;
    }
    this.totals.steps++;
    const V = this.cfg.vocabSize;
    let row = 0;
    for (const { r, seq, start } of plan) {
      if (!this.byId.has(r.req.id)) {
        this.kv.allocator.free(seq.newSlots); // ended while the step ran
        continue;
      }
      r.slots.push(...Array.from(seq.newSlots));
      let finish: Finish | null = null;
      let sampled = false;
      for (let t = seq.logitsFrom; t < seq.tokens.length; t++, row++) {
        const position = start + t;
        const logitsRow = logits.subarray(row * V, (row + 1) * V);
        if (position < r.req.inputIds.length - 1) this.out.promptLogprob(r, logitsRow, position);
        else if (r.remaining() === 0 && t === seq.tokens.length - 1 && !r.aborted) {
          this.out.promptLogprob(r, logitsRow, position);
          sampled = true;
          if (r.req.maxTokens === 0) finish = { reason: 'length' };
          else {
            finish = this.out.sample(r, logitsRow);
            this.totals.generatedTokens++;
          }
        }
      }
      if (r.aborted) continue;
      if (finish) {
        this.running.splice(this.running.indexOf(r), 1);
        events.push(this.finish(r, finish, undefined, true));
      } else if (sampled) events.push(this.out.event(r, null));
      else if (this.cfg.radixCache) this.kv.cache(r, false); // a prefill chunk: cache it for other requests
    }
    this.reapAborted(events);
    return events;
  }

  private finish(r: RequestState, f: Finish, error: string | undefined, cache: boolean): RequestEvent {
    if (cache) this.kv.cache(r, true);
    else this.kv.release(r);
    this.byId.delete(r.req.id);
    return this.out.event(r, error ? { ...f, error } : f);
  }

  private reapAborted(events: RequestEvent[]): void {
    for (let i = this.running.length - 1; i >= 0; i--) {
      const r = this.running[i]!;
      if (!r.aborted) continue;
      this.running.splice(i, 1);
      events.push(this.finish(r, { reason: 'abort' }, undefined, false));
    }
  }

  private buildBatch(): Planned[] {
    const plan: Planned[] = [];
    const decoders = this.running.filter((r) => r.remaining() === 1 && r.outputIds.length > 0);
    // Make room for one token per decoding request, retracting the least advanced when needed.
    while (decoders.length > 0 && this.kv.available() < decoders.length) {
      const victim = [...this.running].sort((a, b) => a.outputIds.length - b.outputIds.length || b.arrival - a.arrival)[0]!;
      this.retract(victim);
      const d = decoders.indexOf(victim);
      if (d >= 0) decoders.splice(d, 1);
    }
    for (const r of decoders) {
      const slots = this.kv.alloc(1)!;
      plan.push(this.planned(r, 1, slots));
    }
    let budget = this.cfg.chunkedPrefillSize;
    let rows = plan.length;
    for (const r of this.running) {
      if (budget <= 0) break;
      if (decoders.includes(r) || r.remaining() === 0) continue;
      const p = this.planPrefill(r, budget, this.cfg.maxLogitRows - rows);
      if (!p) continue;
      plan.push(p);
      budget -= p.seq.tokens.length;
      rows += p.seq.tokens.length - p.seq.logitsFrom;
    }
    this.orderWaiting();
    let reserve = 0;
    for (const r of this.running) reserve += Math.ceil(Math.min(RESERVE_CAP, r.req.maxTokens - r.outputIds.length) * RESERVE_RATIO);
    while (budget > 0 && this.waiting.length > 0 && this.running.length < this.cfg.maxRunningRequests) {
      const r = this.waiting.peek()!;
      // An empty engine always admits (the request may be retracted later, never starved).
      if (this.running.length > 0 && this.kv.available() - Math.min(r.remaining(), budget) < reserve) break;
      const tokens = r.allTokens();
      const from = r.req.promptLogprobsFrom;
      // Keep at least one token to compute, and start no later than the first prompt logprob needs.
      const limit = Math.min(tokens.length - 1, from === undefined ? Infinity : Math.max(0, from - 1));
      this.kv.attachPrefix(r, tokens, limit);
      if (!r.admitted) {
        r.cachedTokens = r.treeLen;
        this.totals.cachedTokens += r.treeLen;
        r.admitted = true;
      }
      const p = this.planPrefill(r, budget, this.cfg.maxLogitRows - rows);
      if (!p) {
        this.kv.release(r);
        break;
      }
      this.waiting.shift();
      this.running.push(r);
      reserve += Math.ceil(Math.min(RESERVE_CAP, r.req.maxTokens - r.outputIds.length) * RESERVE_RATIO);
      plan.push(p);
      budget -= p.seq.tokens.length;
      rows += p.seq.tokens.length - p.seq.logitsFrom;
    }
    return plan;
  }

  /** A prefill chunk for `r` within the token budget and logits-row room, or null when no KV is free. */
  private planPrefill(r: RequestState, budget: number, rowRoom: number): Planned | null {
    const start = r.slots.length;
    const total = r.req.inputIds.length + r.outputIds.length;
    let n = Math.min(r.remaining(), budget, this.kv.available());
    const wantsPromptRows = r.req.promptLogprobsFrom !== undefined;
    if (wantsPromptRows) n = Math.min(n, rowRoom);
    if (n <= 0 || rowRoom <= 0) return null;
    const slots = this.kv.alloc(n);
    if (!slots) return null;
    const isLast = start + n === total;
    const firstRow = wantsPromptRows ? Math.max(0, Math.max(start, r.req.promptLogprobsFrom! - 1) - start) : n;
    const logitsFrom = Math.min(firstRow, isLast ? n - 1 : n);
    return this.planned(r, n, slots, logitsFrom);
  }

  /** The next `n` tokens of `r` on `slots`; its slots are in its slot-table row, which the step references. */
  private planned(r: RequestState, n: number, slots: Int32Array, logitsFrom = 0): Planned {
    const start = r.slots.length;
    this.kv.planSlots(r, start, slots);
    const table = this.kv.table;
    const seq: StepSequence = { tokens: r.tokensAt(start, n), cachedSlots: table.view(r.row, 0, start), newSlots: slots, logitsFrom, row: r.row };
    return { r, start, seq };
  }

  private retract(r: RequestState): void {
    this.running.splice(this.running.indexOf(r), 1);
    this.kv.release(r);
    this.waiting.unshift(r);
    this.totals.retractions++;
  }

  private orderWaiting(): void {
    if (this.cfg.schedulePolicy === 'fcfs' || this.waiting.length > LPM_QUEUE_LIMIT || !this.cfg.radixCache) {
      this.waiting.sortByArrival();
      return;
    }
    const matched = new Map([...this.waiting].map((r) => [r, this.kv.tree.peekPrefixLength(r.allTokens())] as const));
    this.waiting.sort((a, b) => matched.get(b)! - matched.get(a)! || a.arrival - b.arrival);
  }
}
