import ort from 'onnxruntime-node';
import type { ModelConfig } from '../model/config.js';
import type { ShardLayout } from './shard-layout.js';
import type { StepDescriptor } from './step.js';
import { validateStep } from './step.js';
import { buildStepFeeds } from './step-feeds.js';
import { RopeTable } from './rope.js';
import type { GraphSegment } from './graph/segment-emitter.js';
import { GraphInput } from './graph/segment-emitter.js';
import type { ShardCompute } from './shard-compute.js';

/** A segment's ORT session with the description it was built from. */
export interface LoadedSegment {
  readonly spec: Omit<GraphSegment, 'model'>;
  readonly session: ort.InferenceSession;
}

/** A segment's inputs: the step's feeds it declares, plus the previous cut's residual and reduced sum (tp > 1). */
export function segmentInputs(seg: LoadedSegment, feeds: Record<string, ort.Tensor>, residual: ort.Tensor | null, reduced: ort.Tensor | null): Record<string, ort.Tensor> {
  const inputs: Record<string, ort.Tensor> = {};
  for (const name of seg.session.inputNames) {
    if (name === GraphInput.residualIn) inputs[name] = residual!;
    else if (name === GraphInput.reducedIn) inputs[name] = reduced!;
    else inputs[name] = feeds[name]!;
  }
  return inputs;
}

/**
 * One CPU shard's compute: its ORT graph segments and the KV pool of its own heads in host memory.
 * `forward` is an async generator that yields each row-parallel partial sum and expects the
 * all-reduced sum back, so the same code runs in lock-step in one thread (tests) or across worker
 * threads (SAB all-reduce).
 */
export class ShardRuntime implements ShardCompute {
  /** KV of every layer, head-major: [layers, 2 (K,V), kvHeadsLocal, slots, headDim], an ordinary ArrayBuffer (ORT rejects SAB inputs). */
  readonly pool: Float32Array;
  private readonly rope: RopeTable;

  constructor(
    readonly cfg: ModelConfig,
    readonly layout: ShardLayout,
    private readonly segments: readonly LoadedSegment[],
    readonly poolSlots: number,
  ) {
    this.pool = new Float32Array(cfg.numLayers * 2 * poolSlots * layout.kvHeadsLocal * layout.headDim);
    this.rope = new RopeTable(cfg);
  }

  /**
   * Runs one step. Yields a partial sum [T, hidden] at each all-reduce (tp > 1) and receives the
   * reduced sum; returns this shard's logits [rows, vocabLocal] for the requested rows.
   */
  async *forward(step: StepDescriptor): AsyncGenerator<Float32Array, Float32Array, Float32Array> {
    validateStep(step, this.poolSlots);
    const { feeds, tokens, writeSlots } = buildStepFeeds(step, this.cfg, this.layout, this.rope, this.pool, this.poolSlots);
    const hidden = this.cfg.hiddenSize;
    let residual: ort.Tensor | null = null;
    let reduced: ort.Tensor | null = null;
    for (const seg of this.segments) {
      const inputs = segmentInputs(seg, feeds, residual, reduced);
      const out = await seg.session.run(inputs);
      if (seg.spec.kvLayers.length) this.writeKv(out['new_kv']!.data as Float32Array, seg.spec.kvLayers, writeSlots, tokens);
      if (!seg.spec.endsInReduce) return out['logits']!.data as Float32Array;
      residual = out['residual']!;
      const sum: Float32Array = yield out['partial']!.data as Float32Array;
      reduced = new ort.Tensor('float32', sum, [tokens, hidden]);
    }
    throw new Error('graph segments ended without logits');
  }

  /** Scatters the step's new K/V rows into their pool slots (plain loops: a subarray per row made garbage at batch 64). */
  private writeKv(newKv: Float32Array, layers: readonly number[], slots: Int32Array, tokens: number): void {
    const { kvHeadsLocal: kvh, headDim: d } = this.layout;
    const slotsN = this.poolSlots;
    const pool = this.pool;
    layers.forEach((layer, li) => {
      for (let kv = 0; kv < 2; kv++) {
        const src = (li * 2 + kv) * tokens * kvh * d;
        for (let h = 0; h < kvh; h++) {
          const dstBase = ((layer * 2 + kv) * kvh + h) * slotsN;
          for (let t = 0; t < tokens; t++) {
            const from = src + (t * kvh + h) * d;
            const to = (dstBase + slots[t]!) * d;
            for (let i = 0; i < d; i++) pool[to + i] = newKv[from + i]!;
          }
        }
      }
    });
  }

  async release(): Promise<void> {
    await Promise.all(this.segments.map((s) => s.session.release()));
  }
}
