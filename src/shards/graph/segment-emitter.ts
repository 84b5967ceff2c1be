import type { ModelConfig } from '../../model/config.js';
import type { WeightStore } from '../../model/weights.js';
import type { ShardLayout } from '../shard-layout.js';
import type { GraphTarget } from '../device.js';
import { DType, OnnxGraphBuilder, type FloatType } from './onnx-builder.js';
import type { WeightFile } from './weight-file.js';

/** One ONNX graph of a shard: the ops between two all-reduces (or the whole model when tp = 1). */
export interface GraphSegment {
  readonly index: number;
  readonly model: Uint8Array;
  /**
   * Layers whose KV this segment handles. CPU: it outputs their new K/V as `new_kv`
   * [layers, 2, T, kvHeads, headDim] for the shard to write. WebGPU: it takes each layer's pool
   * `kv_pool_<l>` and returns it updated as `kv_pool_out_<l>`, to be fed back next step.
   */
  readonly kvLayers: readonly number[];
  /** Takes `residual_in` and `reduced_in` (the all-reduced partial sum of the previous segment). */
  readonly takesReduced: boolean;
  /** Ends with `residual` and `partial` outputs for the all-reduce; otherwise ends with `logits`. */
  readonly endsInReduce: boolean;
}

/** Runtime input (and KV output) names shared by the graph builder and the step feeders. */
export const GraphInput = {
  inputIds: 'input_ids',
  ropeCos: 'rope_cos',
  ropeSin: 'rope_sin',
  ropePositions: 'rope_positions',
  kvPool: (layer: number) => `kv_pool_${layer}`,
  kvPoolOut: (layer: number) => `kv_pool_out_${layer}`,
  kvStride: 'kv_stride',
  attnOutIndex: 'attn_out_index',
  logitRows: 'logit_rows',
  residualIn: 'residual_in',
  reducedIn: 'reduced_in',
  qIndex: (g: number) => `q_index_${g}`,
  cacheIndex: (g: number) => `cache_index_${g}`,
  newIndex: (g: number) => `new_index_${g}`,
  mask: (g: number) => `mask_${g}`,
  splitSizes: (g: number) => `split_sizes_${g}`,
  /** WebGPU: pool rows of each group's keys [kvh, B, C] (values: + kvh·slots), computed on the host. */
  keyRows: (g: number) => `key_rows_${g}`,
  valueRows: (g: number) => `value_rows_${g}`,
  /** WebGPU: pool rows [2·kvh·T, 1] that receive the step's new K then V. */
  scatterIndex: 'scatter_index',
} as const;

/** Everything an emitter needs: model, weights, this shard's slice, and the device's graph flavour. */
export interface BuildContext {
  readonly cfg: ModelConfig;
  readonly w: WeightStore;
  readonly layout: ShardLayout;
  readonly target: GraphTarget;
  /** Float type of activations, KV and unquantized weights. */
  readonly act: FloatType;
  /** Element type of gather indices fed by the host (int32 on WebGPU: no 64-bit integers in WGSL). */
  readonly index: typeof DType.int32 | typeof DType.int64;
}

/**
 * The float type of activations, KV and unquantized weights: fp16 on WebGPU unless fp32 is asked
 * for (quantized weights then compute in fp16 too); always fp32 on the CPU.
 */
export function activationType(t: GraphTarget): FloatType {
  return t.device === 'webgpu' && t.dtype !== 'fp32' ? DType.float16 : DType.float;
}

export function buildContext(cfg: ModelConfig, w: WeightStore, layout: ShardLayout, target: GraphTarget): BuildContext {
  return { cfg, w, layout, target, act: activationType(target), index: target.device === 'webgpu' ? DType.int32 : DType.int64 };
}

/** Cuts the emitted graph into segments at each all-reduce when tp > 1. */
export class SegmentEmitter {
  readonly segments: GraphSegment[] = [];
  g: OnnxGraphBuilder;
  private kvOutputs: { layer: number; k: string; v: string }[] = [];
  private kvLayers: number[] = [];
  private memo = new Map<string, string>();
  private takesReduced = false;

  constructor(
    private readonly ctx: BuildContext,
    private readonly file: WeightFile,
  ) {
    this.g = this.newBuilder();
  }

  private newBuilder(): OnnxGraphBuilder {
    return new OnnxGraphBuilder(`arbor_shard${this.ctx.layout.rank}_seg${this.segments.length}`, this.file);
  }

  /** A value built once per segment graph (step-wide index math shared by every layer in it). */
  once(key: string, build: () => string): string {
    let v = this.memo.get(key);
    if (v === undefined) {
      v = build();
      this.memo.set(key, v);
    }
    return v;
  }

  /** CPU: the layer's new K and V [T, kvh, d] leave the graph in `new_kv`. */
  addKv(layer: number, k: string, v: string): void {
    this.kvOutputs.push({ layer, k, v });
    this.kvLayers.push(layer);
  }

  /** WebGPU: the layer's pool was updated in the graph; `pool` is already named `kv_pool_out_<layer>`. */
  addPool(layer: number, pool: string): void {
    this.g.output(pool, GraphInput.kvPoolOut(layer), this.ctx.act, ['pool_rows', this.ctx.layout.headDim]);
    this.kvLayers.push(layer);
  }

  /** residual + allReduce(partial): an Add when tp = 1; otherwise a cut between two segments. */
  reduce(residual: string, partial: string): string {
    const { cfg, act } = this.ctx;
    const hidden = cfg.hiddenSize;
    if (this.ctx.layout.tp === 1) return this.g.op('Add', [residual, partial]);
    // The host sums float32 partials; fp16 activations cross the cut as float32.
    const toF32 = (x: string) => (act === DType.float ? x : this.g.op('Cast', [x], { to: DType.float }));
    const fromF32 = (x: string) => (act === DType.float ? x : this.g.op('Cast', [x], { to: act }));
    this.g.output(toF32(residual), 'residual', DType.float, ['T', hidden]);
    this.g.output(toF32(partial), 'partial', DType.float, ['T', hidden]);
    this.close(true);
    this.takesReduced = true;
    const r = fromF32(this.g.input(GraphInput.residualIn, DType.float, ['T', hidden]));
    const s = fromF32(this.g.input(GraphInput.reducedIn, DType.float, ['T', hidden]));
    return this.g.op('Add', [r, s]);
  }

  private close(endsInReduce: boolean): void {
    const { kvHeadsLocal, headDim } = this.ctx.layout;
    if (this.kvOutputs.length) {
      const perLayer = this.kvOutputs.map(({ k, v }) => {
        const pair = this.g.op('Concat', [this.g.op('Unsqueeze', [k, this.g.constI64([0])]), this.g.op('Unsqueeze', [v, this.g.constI64([0])])], { axis: 0 });
        return this.g.op('Unsqueeze', [pair, this.g.constI64([0])]);
      });
      const all = perLayer.length === 1 ? perLayer[0]! : this.g.op('Concat', perLayer, { axis: 0 });
      this.g.output(all, 'new_kv', DType.float, [this.kvOutputs.length, 2, 'T', kvHeadsLocal, headDim]);
    }
    this.segments.push({
      index: this.segments.length,
      model: this.g.encode(),
      kvLayers: this.kvLayers,
      takesReduced: this.takesReduced,
      endsInReduce,
    });
    this.kvOutputs = [];
    this.kvLayers = [];
    this.memo = new Map();
    this.g = this.newBuilder();
  }

  /** Ends the last segment with the float32 logits of the requested rows. */
  finish(logits: string): GraphSegment[] {
    const { act, layout } = this.ctx;
    const f32 = act === DType.float ? logits : this.g.op('Cast', [logits], { to: DType.float });
    this.g.output(f32, 'logits', DType.float, ['R', layout.vocabLocal]);
    this.close(false);
    return this.segments;
  }
}
