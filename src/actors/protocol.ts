/**
 * Everything that crosses a thread boundary between the actors — the front (engine), the
 * scheduler worker and the shard workers — in one place: the resolved engine config, requests and
 * their events, the scheduler's messages, its shared counters, fault injection, and the comlink
 * APIs of the two worker kinds. Type-only (plus two constants), so any actor can import it without
 * loading another actor's code; worker entry files are never imported for their types.
 */
import type { SamplingParams } from '../scheduler/sampling-params.js';
import type { ShardDevice, ShardDType } from '../shards/device.js';
import type { ShardLoadOptions } from '../shards/shard-loader.js';
import type { StepChannelBuffers } from '../shards/step-channel.js';
import type { MessagePort } from 'node:worker_threads';

/** Progress of a long phase (loading weights, building graphs, opening sessions). */
export interface Progress {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
}

/** Test-only fault injection in the shards, keyed by a token id appearing in a step. */
export interface ShardFaults {
  /** The step throws inside the shard (the shard lives on). */
  readonly failOnTokenId?: number;
  /** The shard worker exits (a crash). */
  readonly exitOnTokenId?: number;
}

/** Engine options after validation and defaults: what the scheduler worker is started with. */
export interface ResolvedEngineConfig {
  readonly modelPath: string;
  readonly tp: number;
  readonly device: ShardDevice;
  readonly dtype: ShardDType;
  readonly kvCacheTokens: number;
  readonly maxRunningRequests: number;
  /** Most requests waiting for admission; more are refused (Infinity: no limit). */
  readonly maxQueuedRequests: number;
  readonly chunkedPrefillSize: number;
  readonly schedulePolicy: 'lpm' | 'fcfs';
  readonly radixCache: boolean;
  readonly contextLength: number;
  readonly threadsPerShard: number;
  readonly cacheDir: string;
  /** Test-only fault injection in the shards. */
  readonly faults?: ShardFaults;
  /** The process-wide WebGPU run lock word (src/shards/gpu-run-lock.ts), shared by every engine of the process. */
  readonly gpuLock: SharedArrayBuffer;
}

/** Most top alternatives a request may ask for per position (output or prompt). */
export const MAX_TOP_LOGPROBS = 20;

/** A token with its logprob and, when asked, its top alternatives. */
export interface TokenLogprob {
  readonly token: number;
  readonly logprob: number;
  readonly topLogprobs?: readonly { token: number; logprob: number }[];
}

/** A prompt position's logprob (null for position 0). */
export interface PromptLogprob {
  readonly token: number;
  readonly logprob: number | null;
  readonly topLogprobs?: { token: number; logprob: number }[];
}

export type FinishReason = 'stop' | 'length' | 'abort';

/** A validated, tokenized request as the front actor hands it to the scheduler. */
export interface SchedulerRequest {
  readonly id: string;
  readonly inputIds: number[];
  readonly sampling: SamplingParams;
  readonly maxTokens: number;
  readonly minTokens: number;
  readonly seed?: number;
  readonly stop: string[];
  readonly stopTokenIds: number[];
  readonly ignoreEos: boolean;
  /** Output logprobs wanted; topLogprobs alternatives per position. */
  readonly logprobs: boolean;
  readonly topLogprobs: number;
  /** Prompt logprobs from this position (undefined: none). */
  readonly promptLogprobsFrom?: number;
  readonly promptTopLogprobs: number;
  readonly includeSpecialTokens: boolean;
}

/** What the scheduler tells the front about one request after a step. */
export interface RequestEvent {
  readonly id: string;
  readonly tokenIds: number[];
  readonly text: string;
  readonly logprobs?: TokenLogprob[];
  readonly promptLogprobs?: PromptLogprob[];
  readonly finish?: {
    readonly reason: FinishReason;
    readonly matched?: string | number;
    readonly usage: { promptTokens: number; completionTokens: number; cachedTokens: number };
    readonly error?: string;
  };
}

/** Messages the scheduler posts to the front on its event port. */
export type SchedulerMessage =
  | { type: 'events'; events: RequestEvent[] }
  | ({ type: 'progress' } & Progress)
  | { type: 'fatal'; message: string };

/** Indices of the scheduler's counters (Float64Array over a SharedArrayBuffer) that the front reads. */
export const Counter = {
  running: 0,
  queued: 1,
  promptTokens: 2,
  cachedTokens: 3,
  generatedTokens: 4,
  healthy: 5,
  steps: 6,
  retractions: 7,
  length: 8,
} as const;

/** SharedArrayBuffers the front reads for `stats()` without a round trip. */
export interface SchedulerSharedState {
  /** Float64Array of {@link Counter}. */
  readonly counters: SharedArrayBuffer;
  readonly allocator: SharedArrayBuffer;
  /** The radix tree's counters (this buffer never moves, unlike the tree's other buffers). */
  readonly treeStats: SharedArrayBuffer;
}

/** The scheduler worker's comlink API (src/actors/scheduler-worker.ts). */
export interface SchedulerActorApi {
  /** Loads the tokenizer and the shards; events and progress arrive on `port`. */
  init(config: ResolvedEngineConfig, port: MessagePort): Promise<SchedulerSharedState>;
  /**
   * Queues requests in order (the front sends one batch per turn of its event loop). Returns how
   * many were queued: the rest found the queue full (`maxQueuedRequests`) and were not.
   */
  submit(reqs: readonly SchedulerRequest[]): number;
  /** Cancels requests (those still waiting end at once, running ones at the next step). */
  abort(ids: readonly string[]): void;
  /** False while requests are in flight. */
  flushCache(): boolean;
  /** Stops the loop, fails what is left ('engine closed'), stops the shards, then exits. */
  shutdown(): Promise<void>;
}

/** A shard worker's comlink API (src/actors/shard-worker.ts); steps never use it (see StepChannel). */
export interface ShardActorApi {
  /** Loads this shard's slice of the model, then serves steps from the channel until shutdown. */
  init(options: Omit<ShardLoadOptions, 'onProgress'>, buffers: StepChannelBuffers, faults: ShardFaults, onProgress?: (p: Progress) => void): Promise<void>;
}
