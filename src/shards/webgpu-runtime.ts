import ort from 'onnxruntime-node';
import type { ModelConfig } from '../model/config.js';
import type { ShardLayout } from './shard-layout.js';
import type { StepDescriptor } from './step.js';
import { validateStep } from './step.js';
import { RopeTable } from './rope.js';
import { GraphInput } from './graph/segment-emitter.js';
import { segmentInputs, type LoadedSegment } from './shard-runtime.js';
import type { ShardCompute } from './shard-compute.js';
import { buildWebGpuStepFeeds } from './step-feeds-webgpu.js';
import { GpuRunLock } from './gpu-run-lock.js';

/** The lock of shards loaded without one (all in this thread). */
const THREAD_LOCK = new GpuRunLock();

/**
 * A shard on onnxruntime's WebGPU EP. Each layer's KV pool is a GPU buffer: the step graph
 * scatters the new K/V into it and returns the updated pool as a `gpu-buffer` tensor, which is fed
 * back next step (the one it replaces is disposed, so GPU memory stays flat). Only the requested
 * logits rows (and, tp > 1, the partial sums) come back to the host.
 */
export class WebGpuShardRuntime implements ShardCompute {
  private readonly rope: RopeTable;
  /** Per layer: the pool to feed next step (a host zero tensor until the first step uploads it). */
  private readonly pools: ort.Tensor[];

  constructor(
    readonly cfg: ModelConfig,
    readonly layout: ShardLayout,
    private readonly segments: readonly LoadedSegment[],
    readonly poolSlots: number,
    private readonly fp16: boolean,
    private readonly lock: GpuRunLock = THREAD_LOCK,
  ) {
    this.rope = new RopeTable(cfg);
    const rows = 2 * layout.kvHeadsLocal * poolSlots;
    const size = rows * layout.headDim;
    this.pools = Array.from({ length: cfg.numLayers }, () =>
      fp16 ? new ort.Tensor('float16', new Uint16Array(size), [rows, layout.headDim]) : new ort.Tensor('float32', new Float32Array(size), [rows, layout.headDim]),
    );
  }

  async *forward(step: StepDescriptor): AsyncGenerator<Float32Array, Float32Array, Float32Array> {
    validateStep(step, this.poolSlots);
    const { feeds, tokens } = buildWebGpuStepFeeds(step, this.cfg, this.layout, this.rope, this.poolSlots, this.fp16);
    const hidden = this.cfg.hiddenSize;
    let residual: ort.Tensor | null = null;
    let reduced: ort.Tensor | null = null;
    for (const seg of this.segments) {
      const inputs = segmentInputs(seg, feeds, residual, reduced);
      for (const l of seg.spec.kvLayers) inputs[GraphInput.kvPool(l)] = this.pools[l]!;
      const out = await this.lock.run(() => seg.session.run(inputs));
      for (const l of seg.spec.kvLayers) {
        const old = this.pools[l]!;
        this.pools[l] = out[GraphInput.kvPoolOut(l)]!;
        if (old.location === 'gpu-buffer') old.dispose();
      }
      if (!seg.spec.endsInReduce) return (await out['logits']!.getData()) as Float32Array;
      residual = out['residual']!;
      const sum: Float32Array = yield (await out['partial']!.getData()) as Float32Array;
      reduced = new ort.Tensor('float32', sum, [tokens, hidden]);
    }
    throw new Error('graph segments ended without logits');
  }

  async release(): Promise<void> {
    for (const p of this.pools) if (p.location === 'gpu-buffer') p.dispose();
    await Promise.all(this.segments.map((s) => s.session.release()));
  }
}
