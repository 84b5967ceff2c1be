import type { ModelConfig } from '../../model/config.js';
import type { WeightStore } from '../../model/weights.js';
import type { ShardLayout } from '../shard-layout.js';
import { DType, OnnxGraphBuilder } from './onnx-builder.js';
import type { WeightFile } from './weight-file.js';
import { emitLinear } from './linear.js';
import type { WeightDType } from './quantize.js';
import { concatRows, readRowSlice, sliceCols } from './weight-slices.js';

/** Attention groups per step: sequences are packed into this many padded blocks (decode-like and prefill-like). */
export const ATTENTION_GROUPS = 2;

/** One ONNX graph of a shard: the ops between two all-reduces (or the whole model when tp = 1). */
export interface GraphSegment {
  readonly index: number;
  readonly model: Uint8Array;
  /** Layers whose new K/V this segment outputs as `new_kv` [layers, 2, T, kvHeads, headDim]. */
  readonly kvLayers: readonly number[];
  /** Takes `residual_in` and `reduced_in` (the all-reduced partial sum of the previous segment). */
  readonly takesReduced: boolean;
  /** Ends with `residual` and `partial` outputs for the all-reduce; otherwise ends with `logits`. */
  readonly endsInReduce: boolean;
}

/** Runtime input names shared by the graph builder and the step feeder. */
export const GraphInput = {
  inputIds: 'input_ids',
  ropeCos: 'rope_cos',
  ropeSin: 'rope_sin',
  kvPool: 'kv_pool',
  kvStride: 'kv_stride',
  attnOutIndex: 'attn_out_index',
  logitRows: 'logit_rows',
  residualIn: 'residual_in',
  reducedIn: 'reduced_in',
  qIndex: (g: number) => `q_index_${g}`,
  cacheIndex: (g: number) => `cache_index_${g}`,
  newIndex: (g: number) => `new_index_${g}`,
  mask: (g: number) => `mask_${g}`,
  qShape: (g: number) => `q_shape_${g}`,
  cacheShape: (g: number) => `cache_shape_${g}`,
  newShape: (g: number) => `new_shape_${g}`,
  splitSizes: (g: number) => `split_sizes_${g}`,
} as const;

interface BuildContext {
  readonly cfg: ModelConfig;
  readonly w: WeightStore;
  readonly layout: ShardLayout;
  readonly dtype: WeightDType;
}

/** Cuts the emitted graph into segments at each all-reduce when tp > 1. */
class SegmentEmitter {
  readonly segments: GraphSegment[] = [];
  g: OnnxGraphBuilder;
  private kvOutputs: { layer: number; k: string; v: string }[] = [];
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

  addKv(layer: number, k: string, v: string): void {
    this.kvOutputs.push({ layer, k, v });
  }

  /** residual + allReduce(partial): an Add when tp = 1; otherwise a cut between two segments. */
  reduce(residual: string, partial: string): string {
    const hidden = this.ctx.cfg.hiddenSize;
    if (this.ctx.layout.tp === 1) return this.g.op('Add', [residual, partial]);
    this.g.output(residual, 'residual', DType.float, ['T', hidden]);
    this.g.output(partial, 'partial', DType.float, ['T', hidden]);
    this.close(true);
    this.takesReduced = true;
    const r = this.g.input(GraphInput.residualIn, DType.float, ['T', hidden]);
    const s = this.g.input(GraphInput.reducedIn, DType.float, ['T', hidden]);
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
      kvLayers: this.kvOutputs.map((o) => o.layer),
      takesReduced: this.takesReduced,
      endsInReduce,
    });
    this.kvOutputs = [];
    this.g = this.newBuilder();
  }

  finish(logits: string): GraphSegment[] {
    this.g.output(logits, 'logits', DType.float, ['R', this.ctx.layout.vocabLocal]);
    this.close(false);
    return this.segments;
  }
}

function rmsNorm(g: OnnxGraphBuilder, x: string, weightName: string, weight: Float32Array, eps: number): string {
  const scale = g.weight(weightName, DType.float, [weight.length], weight);
  return g.op('SimplifiedLayerNormalization', [x, scale], { axis: -1, epsilon: eps, stash_type: 1 });
}

/** Rotate-half rotary embedding of x [T, heads, D] with cos/sin [T, D/2]. */
function rotary(g: OnnxGraphBuilder, x: string, headDim: number): string {
  const cos = g.op('Unsqueeze', [g.input(GraphInput.ropeCos, DType.float, ['T', headDim / 2]), g.constI64([1])]);
  const sin = g.op('Unsqueeze', [g.input(GraphInput.ropeSin, DType.float, ['T', headDim / 2]), g.constI64([1])]);
  const [x1, x2] = g.opN('Split', [x, g.constI64([headDim / 2, headDim / 2])], 2, { axis: -1 });
  const a = g.op('Sub', [g.op('Mul', [x1!, cos]), g.op('Mul', [x2!, sin])]);
  const b = g.op('Add', [g.op('Mul', [x2!, cos]), g.op('Mul', [x1!, sin])]);
  return g.op('Concat', [a, b], { axis: -1 });
}

/**
 * Scaled-dot-product attention for one padded group. The KV pool is laid out head-major
 * ([layers, 2, kvHeads, slots, headDim]) so one Gather yields K and V already as
 * [kvHeads, B, P, d]: the cached context is copied once per layer, never transposed or
 * concatenated. Scores against the cached and the new keys are computed apart and joined (they are
 * small), as are the two halves of the probability-weighted sum.
 */
function groupAttention(g: OnnxGraphBuilder, ctx: BuildContext, layer: number, gi: number, q: string, k: string, v: string): string {
  const { kvHeadsLocal: kvh, headDim: d, headsLocal } = ctx.layout;
  const I = GraphInput;
  const pool = g.input(I.kvPool, DType.float, ['pool_rows', d]);
  const stride = g.input(I.kvStride, DType.int64, [1]);
  const cacheIdx = g.op('Unsqueeze', [g.input(I.cacheIndex(gi), DType.int64, [`M${gi}`]), g.constI64([0])]); // [1, B·P]
  const newIdx = g.input(I.newIndex(gi), DType.int64, [`N${gi}`]);
  const reshape = (x: string, shape: string) => g.op('Reshape', [x, shape], { allowzero: 1 });
  const cacheShape = g.input(I.cacheShape(gi), DType.int64, [5]); // [kvh, B, 1, P, d]
  const newShape = g.input(I.newShape(gi), DType.int64, [4]); // [B, S, kvh, d]
  const heads = Array.from({ length: kvh }, (_, h) => h);
  const cachedOf = (which: 0 | 1) => {
    const rowsPerHead = g.op('Mul', [stride, g.constI64(heads.map((h) => (2 * layer + which) * kvh + h))]);
    const idx = g.op('Add', [cacheIdx, g.op('Unsqueeze', [rowsPerHead, g.constI64([1])])]); // [kvh, B·P]
    return reshape(g.op('Gather', [pool, idx], { axis: 0 }), cacheShape); // [kvh, B, 1, P, d]
  };
  const newOf = (fresh: string) =>
    g.op('Unsqueeze', [g.op('Transpose', [reshape(g.op('Gather', [fresh, newIdx], { axis: 0 }), newShape)], { perm: [2, 0, 1, 3] }), g.constI64([2])]); // [kvh, B, 1, S, d]
  const qg = g.op('Transpose', [
    reshape(g.op('Gather', [q, g.input(I.qIndex(gi), DType.int64, [`N${gi}`])], { axis: 0 }), g.input(I.qShape(gi), DType.int64, [5])),
  ], { perm: [2, 0, 3, 1, 4] }); // [kvh, B, G, S, d]
  const scale = { alpha: 1 / Math.sqrt(d), transA: 0, transB: 1 };
  const vc = cachedOf(1);
  const vn = newOf(v);
  const scores = g.op('Concat', [
    g.op('FusedMatMul', [qg, cachedOf(0)], scale, 'com.microsoft'),
    g.op('FusedMatMul', [qg, newOf(k)], scale, 'com.microsoft'),
  ], { axis: -1 }); // [kvh, B, G, S, P+S]
  const mask = g.input(I.mask(gi), DType.float, [`B${gi}`, 1, `S${gi}`, `C${gi}`]);
  const probs = g.op('Softmax', [g.op('Add', [scores, mask])], { axis: -1 });
  const [pc, pn] = g.opN('Split', [probs, g.input(I.splitSizes(gi), DType.int64, [2])], 2, { axis: -1 });
  const out = g.op('Add', [g.op('MatMul', [pc!, vc]), g.op('MatMul', [pn!, vn])]); // [kvh, B, G, S, d]
  return g.op('Reshape', [g.op('Transpose', [out], { perm: [1, 3, 0, 2, 4] }), g.constI64([-1, headsLocal * d])]);
}

function emitAttention(em: SegmentEmitter, ctx: BuildContext, layer: number, x: string): string {
  const { cfg, w, layout, dtype } = ctx;
  const { headsLocal: hl, kvHeadsLocal: kvl, headDim: d, rank } = layout;
  const p = `model.layers.${layer}.self_attn`;
  const H = cfg.hiddenSize;
  const g = em.g;
  const qRows = cfg.numHeads * d;
  const kvRows = cfg.numKvHeads * d;
  const wq = readRowSlice(w, `${p}.q_proj.weight`, qRows, H, rank * hl * d, hl * d);
  const wk = readRowSlice(w, `${p}.k_proj.weight`, kvRows, H, rank * kvl * d, kvl * d);
  const wv = readRowSlice(w, `${p}.v_proj.weight`, kvRows, H, rank * kvl * d, kvl * d);
  const bias = cfg.architecture.qkvBias
    ? concatRows([
        readRowSlice(w, `${p}.q_proj.bias`, qRows, 0, rank * hl * d, hl * d),
        readRowSlice(w, `${p}.k_proj.bias`, kvRows, 0, rank * kvl * d, kvl * d),
        readRowSlice(w, `${p}.v_proj.bias`, kvRows, 0, rank * kvl * d, kvl * d),
      ])
    : undefined;
  const qkvOut = (hl + 2 * kvl) * d;
  const qkv = emitLinear(g, x, `${p}.qkv`, concatRows([wq, wk, wv]), qkvOut, H, dtype, bias);
  const [qf, kf, vf] = g.opN('Split', [qkv, g.constI64([hl * d, kvl * d, kvl * d])], 3, { axis: -1 });
  let q = g.op('Reshape', [qf!, g.constI64([0, hl, d])]);
  let k = g.op('Reshape', [kf!, g.constI64([0, kvl, d])]);
  const v = g.op('Reshape', [vf!, g.constI64([0, kvl, d])]);
  if (cfg.architecture.qkNorm) {
    q = rmsNorm(g, q, `${p}.q_norm`, w.get(`${p}.q_norm.weight`, [d]).data, cfg.rmsNormEps);
    k = rmsNorm(g, k, `${p}.k_norm`, w.get(`${p}.k_norm.weight`, [d]).data, cfg.rmsNormEps);
  }
  q = rotary(g, q, d);
  k = rotary(g, k, d);
  em.addKv(layer, k, v);
  const groups = Array.from({ length: ATTENTION_GROUPS }, (_, gi) => groupAttention(g, ctx, layer, gi, q, k, v));
  const attn = g.op('Gather', [g.op('Concat', groups, { axis: 0 }), g.input(GraphInput.attnOutIndex, DType.int64, ['T'])], { axis: 0 });
  const wo = sliceCols(w.get(`${p}.o_proj.weight`, [H, qRows]).data, H, qRows, rank * hl * d, hl * d);
  const oBias = cfg.architecture.oBias && rank === 0 ? w.get(`${p}.o_proj.bias`, [H]).data : undefined;
  return emitLinear(g, attn, `${p}.o_proj`, wo, H, hl * d, dtype, oBias);
}

function emitMlp(em: SegmentEmitter, ctx: BuildContext, layer: number, x: string): string {
  const { cfg, w, layout, dtype } = ctx;
  const p = `model.layers.${layer}.mlp`;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const il = layout.intermediateLocal;
  const start = layout.rank * il;
  const g = em.g;
  const gateUp = concatRows([
    readRowSlice(w, `${p}.gate_proj.weight`, I, H, start, il),
    readRowSlice(w, `${p}.up_proj.weight`, I, H, start, il),
  ]);
  const gu = emitLinear(g, x, `${p}.gate_up`, gateUp, 2 * il, H, dtype);
  const [gate, up] = g.opN('Split', [gu, g.constI64([il, il])], 2, { axis: -1 });
  const act = g.op('Mul', [g.op('Mul', [gate!, g.op('Sigmoid', [gate!])]), up!]);
  const down = sliceCols(w.get(`${p}.down_proj.weight`, [H, I]).data, H, I, start, il);
  return emitLinear(g, act, `${p}.down_proj`, down, H, il, dtype);
}

/**
 * Emits a shard's transformer as ONNX segment(s): the whole model in one graph when tp = 1, or
 * 2·layers + 1 graphs cut at each row-parallel all-reduce when tp > 1.
 */
export function buildShardGraphs(
  cfg: ModelConfig,
  w: WeightStore,
  layout: ShardLayout,
  dtype: WeightDType,
  file: WeightFile,
): GraphSegment[] {
  const ctx: BuildContext = { cfg, w, layout, dtype };
  const em = new SegmentEmitter(ctx, file);
  const H = cfg.hiddenSize;
  const embedName = 'model.embed_tokens.weight';
  const embed = w.get(embedName, [cfg.vocabSize, H]).data;
  const norm = (x: string, name: string) => rmsNorm(em.g, x, name, w.get(`${name}.weight`, [H]).data, cfg.rmsNormEps);
  let h = em.g.op('Gather', [em.g.weight(embedName, DType.float, [cfg.vocabSize, H], embed), em.g.input(GraphInput.inputIds, DType.int64, ['T'])], { axis: 0 });
  for (let l = 0; l < cfg.numLayers; l++) {
    h = em.reduce(h, emitAttention(em, ctx, l, norm(h, `model.layers.${l}.input_layernorm`)));
    h = em.reduce(h, emitMlp(em, ctx, l, norm(h, `model.layers.${l}.post_attention_layernorm`)));
  }
  const rows = em.g.op('Gather', [h, em.g.input(GraphInput.logitRows, DType.int64, ['R'])], { axis: 0 });
  const headName = cfg.tieWordEmbeddings ? embedName : 'lm_head.weight';
  const head = cfg.tieWordEmbeddings ? embed : w.get(headName, [cfg.vocabSize, H]).data;
  const headSlice = head.subarray(layout.vocabStart * H, (layout.vocabStart + layout.vocabLocal) * H);
  const logits = emitLinear(em.g, norm(rows, 'model.norm'), 'lm_head', headSlice, layout.vocabLocal, H, dtype);
  return em.finish(logits);
}
