import type { ModelConfig } from '../model/config.js';
import { ModelBuildError } from '../model/errors.js';

/** What one tensor-parallel shard holds: its heads, MLP columns and vocabulary slice. */
export interface ShardLayout {
  readonly tp: number;
  readonly rank: number;
  readonly headsLocal: number;
  readonly kvHeadsLocal: number;
  readonly headDim: number;
  /** Query heads per KV head (GQA group size; identical on every shard). */
  readonly groupSize: number;
  readonly intermediateLocal: number;
  readonly vocabStart: number;
  readonly vocabLocal: number;
}

/** Supported tensor-parallel degrees. */
export const SUPPORTED_TP = [1, 2, 4] as const;

/**
 * Splits the model across `tp` shards: attention heads and MLP columns evenly (a clear error when
 * they do not divide), the vocabulary in contiguous slices (the last may be shorter).
 */
export function planShard(cfg: ModelConfig, tp: number, rank: number): ShardLayout {
  if (!(SUPPORTED_TP as readonly number[]).includes(tp)) {
    throw new ModelBuildError(`tp must be one of ${SUPPORTED_TP.join(', ')} (got ${tp})`);
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= tp) throw new ModelBuildError(`shard rank ${rank} is outside 0..${tp - 1}`);
  const check = (field: string, value: number) => {
    if (value % tp !== 0) {
      throw new ModelBuildError(`tp=${tp} does not divide ${field}=${value}; choose a tp that divides it`);
    }
  };
  check('num_attention_heads', cfg.numHeads);
  check('num_key_value_heads', cfg.numKvHeads);
  check('intermediate_size', cfg.intermediateSize);
  const vocabPer = Math.ceil(cfg.vocabSize / tp);
  const vocabStart = Math.min(rank * vocabPer, cfg.vocabSize);
  return {
    tp,
    rank,
    headsLocal: cfg.numHeads / tp,
    kvHeadsLocal: cfg.numKvHeads / tp,
    headDim: cfg.headDim,
    groupSize: cfg.numHeads / cfg.numKvHeads,
    intermediateLocal: cfg.intermediateSize / tp,
    vocabStart,
    vocabLocal: Math.min(vocabPer, cfg.vocabSize - vocabStart),
  };
}
