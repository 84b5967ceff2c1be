import type { ShardCompute } from './shard-compute.js';
import type { StepDescriptor } from './step.js';
import { stepSize } from './step.js';
import { placeVocabSlice, sumInRankOrder } from './tp-combine.js';

/**
 * Drives tp shards in lock-step on one thread: sums their partials at each all-reduce and stitches
 * their vocabulary slices into full logit rows. Used by `arbor generate` and by tests; the engine
 * runs the same shard generators in worker threads instead.
 */
export class LocalTensorParallel {
  readonly vocabSize: number;

  constructor(readonly shards: readonly ShardCompute[]) {
    if (shards.length === 0) throw new RangeError('LocalTensorParallel needs at least one shard');
    this.vocabSize = shards[0]!.cfg.vocabSize;
  }

  /** Runs one step on every shard and returns logits [rows, vocab] for the requested rows. */
  async forward(step: StepDescriptor): Promise<Float32Array> {
    const gens = this.shards.map((s) => s.forward(step));
    let results = await Promise.all(gens.map((g) => g.next()));
    while (!results[0]!.done) {
      const partials = results.map((r) => r.value);
      const sum = sumInRankOrder(partials, partials[0]!.length);
      results = await Promise.all(gens.map((g) => g.next(sum)));
    }
    if (this.shards.length === 1) return results[0]!.value;
    const rows = stepSize(step).logitRows;
    const V = this.vocabSize;
    const logits = new Float32Array(rows * V);
    this.shards.forEach((shard, i) => placeVocabSlice(logits, results[i]!.value, rows, V, shard.layout.vocabStart, shard.layout.vocabLocal));
    return logits;
  }

  async release(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.release()));
  }
}
