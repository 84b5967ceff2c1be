import type { ModelConfig } from '../model/config.js';
import type { ShardLayout } from './shard-layout.js';
import type { StepDescriptor } from './step.js';

/**
 * One shard's compute on some device — what the shard worker and `LocalTensorParallel` drive.
 * `forward` is an async generator: it yields each row-parallel partial sum [T, hidden] (tp > 1)
 * and receives the all-reduced sum, and returns this shard's logits [rows, vocabLocal] for the
 * requested rows. Where KV lives (host memory, GPU buffers) is the implementation's business.
 */
export interface ShardCompute {
  readonly cfg: ModelConfig;
  readonly layout: ShardLayout;
  forward(step: StepDescriptor): AsyncGenerator<Float32Array, Float32Array, Float32Array>;
  release(): Promise<void>;
}
