import type { ShardFaults } from './shard-worker.js';
import type { WeightDType } from '../shards/graph/quantize.js';

/** Engine options after validation and defaults: what the scheduler worker is started with. */
export interface ResolvedEngineConfig {
  readonly modelPath: string;
  readonly tp: number;
  readonly dtype: WeightDType;
  readonly kvCacheTokens: number;
  readonly maxRunningRequests: number;
  readonly chunkedPrefillSize: number;
  readonly schedulePolicy: 'lpm' | 'fcfs';
  readonly radixCache: boolean;
  readonly contextLength: number;
  readonly threadsPerShard: number;
  readonly cacheDir: string;
  /** Test-only fault injection in the shards. */
  readonly faults?: ShardFaults;
}

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
