import { join } from 'node:path';
import type { SchedulerRequest } from '../../src/actors/protocol.js';
import { DEFAULT_SAMPLING_PARAMS } from '../../src/scheduler/sampling-params.js';
import { Scheduler, type SchedulerConfig, type StepExecutor } from '../../src/scheduler/scheduler.js';
import type { StepDescriptor } from '../../src/shards/step.js';
import { ModelTokenizer } from '../../src/tokenizer/tokenizer.js';
import { FIXTURES } from './fixtures.js';

/** What a {@link FakeExecutor} saw of one step: copies, since the scheduler reuses its arrays. */
export interface SeenSequence {
  readonly tokens: number[];
  readonly cachedSlots: number[];
  readonly newSlots: number[];
  readonly logitsFrom: number;
  readonly row: number | undefined;
}

/**
 * A step executor with no model: the "model" always predicts `next(token) = token + 1` (mod the
 * vocabulary, skipping ids below 3), so a greedy request's output is known in advance. It records
 * every step, can hold a step until released, and can fail steps.
 */
export class FakeExecutor implements StepExecutor {
  readonly steps: SeenSequence[][] = [];
  /** Throws when a step contains this token. */
  failOnToken: number | undefined;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;
  /** Resolves when a held step has started. */
  started: Promise<void> = Promise.resolve();
  private markStarted: (() => void) | null = null;

  constructor(readonly vocabSize: number) {}

  /** The token the fake model predicts after `token`. */
  next(token: number): number {
    return Math.max(3, (token + 1) % this.vocabSize);
  }

  /** Makes the next step wait until {@link release} (to act while a step is in flight). */
  hold(): void {
    this.gate = new Promise((r) => (this.openGate = r));
    this.started = new Promise((r) => (this.markStarted = r));
  }

  release(): void {
    this.openGate?.();
    this.gate = null;
  }

  async forward(step: StepDescriptor): Promise<Float32Array> {
    const seen = step.sequences.map((s) => ({
      tokens: Array.from(s.tokens),
      cachedSlots: Array.from(s.cachedSlots),
      newSlots: Array.from(s.newSlots),
      logitsFrom: s.logitsFrom,
      row: s.row,
    }));
    this.steps.push(seen);
    this.markStarted?.();
    this.markStarted = null;
    if (this.gate) await this.gate;
    if (this.failOnToken !== undefined && seen.some((s) => s.tokens.includes(this.failOnToken!))) throw new Error(`fake failure on token ${this.failOnToken}`);
    const rows = seen.reduce((n, s) => n + s.tokens.length - s.logitsFrom, 0);
    const logits = new Float32Array(rows * this.vocabSize);
    let row = 0;
    for (const s of seen) {
      for (let t = s.logitsFrom; t < s.tokens.length; t++, row++) logits[row * this.vocabSize + this.next(s.tokens[t]!)] = 10;
    }
    return logits;
  }
}

/** The fixture tokenizer (no model weights; the scheduler detokenizes with it). */
export function fixtureTokenizer(): Promise<ModelTokenizer> {
  return ModelTokenizer.load(join(FIXTURES, 'tokenizer'));
}

/** A scheduler over a fake executor, with small limits that tests override. */
export function fakeScheduler(tokenizer: ModelTokenizer, cfg: Partial<SchedulerConfig> = {}): { scheduler: Scheduler; executor: FakeExecutor } {
  const vocabSize = tokenizer.vocabSize;
  const executor = new FakeExecutor(vocabSize);
  const full: SchedulerConfig = {
    kvCacheTokens: 256,
    maxRunningRequests: 8,
    chunkedPrefillSize: 64,
    schedulePolicy: 'lpm',
    radixCache: true,
    contextLength: 128,
    vocabSize,
    maxLogitRows: 64 + 8,
    ...cfg,
  };
  return { scheduler: new Scheduler(full, tokenizer, executor), executor };
}

/** A greedy request with EOS ignored. */
export function greedyRequest(id: string, inputIds: number[], maxTokens: number, extra: Partial<SchedulerRequest> = {}): SchedulerRequest {
  return {
    id,
    inputIds,
    sampling: { ...DEFAULT_SAMPLING_PARAMS, temperature: 0 },
    maxTokens,
    minTokens: 0,
    stop: [],
    stopTokenIds: [],
    ignoreEos: true,
    logprobs: false,
    topLogprobs: 0,
    promptTopLogprobs: 0,
    includeSpecialTokens: true,
    ...extra,
  };
}
