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
  ropePositions: 'rope_positions',
  kvPool: (layer: number) => `kv_pool_${layer}`,
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
    this.memo = new Map();
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

/**
 * Rotate-half rotary embedding (com.microsoft RotaryEmbedding) of x [T, heads·d]; returns
 * [T, heads, d]. The cos/sin rows are the step's tokens' own (position_ids 0..T-1 index them).
 */
function rotary(g: OnnxGraphBuilder, x: string, heads: number, headDim: number): string {
  const I = GraphInput;
  const rotated = g.op(
    'RotaryEmbedding',
    [
      g.op('Unsqueeze', [x, g.constI64([0])]),
      g.input(I.ropePositions, DType.int64, [1, 'T']),
      g.input(I.ropeCos, DType.float, ['T', headDim / 2]),
      g.input(I.ropeSin, DType.float, ['T', headDim / 2]),
    ],
    { interleaved: 0 },
    'com.microsoft',
  );
  return g.op('Reshape', [rotated, g.constI64([-1, heads, headDim])]);
}

/** Per-layer views of this step's new tokens, shaped for every group's gathers. */
interface LayerAttention {
  readonly layer: number;
  /** Queries [kvh, T, G, d] (G query heads share each KV head). */
  readonly qT: string;
  /** New keys and values [kvh, T, d]. */
  readonly kT: string;
  readonly vT: string;
}

/**
 * Scaled-dot-product attention for one padded group (B sequences × S queries × P cached + S new
 * keys). Each layer's KV pool is head-major ([2, kvHeads, slots, d], a view of the shard's pool),
 * so one Gather per K and V yields the cached context as [kvh, B, P, d]: it is copied once per
 * layer, never transposed or concatenated. The G query heads of a KV head are folded into the query
 * rows ([kvh, B, S·G, d]), so each (KV head, sequence) is one GEMM that reads its keys once, not G
 * broadcast GEMMs. Scores against cached and new keys are computed apart and joined (they are
 * small), as are the two halves of the probability-weighted sum.
 */
function groupAttention(em: SegmentEmitter, ctx: BuildContext, a: LayerAttention, gi: number): string {
  const { kvHeadsLocal: kvh, headDim: d, headsLocal } = ctx.layout;
  const G = headsLocal / kvh;
  const I = GraphInput;
  const g = em.g;
  // Pool rows of head h's K for each cached token: slot + h·slots (V: + kvh·slots more).
  const keyRows = em.once(`keys${gi}`, () => {
    const stride = g.input(I.kvStride, DType.int64, [1]);
    const heads = g.op('Reshape', [g.op('Mul', [stride, g.constI64(Array.from({ length: kvh }, (_, h) => h))]), g.constI64([kvh, 1, 1])]);
    // int32 slots, so the shard copies slot-table rows into the feed with one memcpy (no BigInt per slot).
    const slots = g.op('Cast', [g.input(I.cacheIndex(gi), DType.int32, [`B${gi}`, `P${gi}`])], { to: DType.int64 });
    return g.op('Add', [slots, heads]); // [kvh, B, P]
  });
  const valueRows = em.once(`values${gi}`, () => g.op('Add', [keyRows, g.op('Mul', [g.input(I.kvStride, DType.int64, [1]), g.constI64([kvh])])]));
  // The mask of query row (s, g) is query s's: [B, S, 1, C] → [B, S·G, C], built once per graph.
  const mask = em.once(`mask${gi}`, () => {
    const m = g.input(I.mask(gi), DType.float, [`B${gi}`, `S${gi}`, 1, `C${gi}`]);
    const shape = g.op('Concat', [g.op('Shape', [m], { start: 0, end: 1 }), g.constI64([-1]), g.op('Shape', [m], { start: 3 })], { axis: 0 });
    return g.op('Reshape', [G > 1 ? g.op('Expand', [m, g.constI64([1, 1, G, 1])]) : m, shape]);
  });
  const pool = g.input(I.kvPool(a.layer), DType.float, ['pool_rows', d]);
  const newIdx = g.input(I.newIndex(gi), DType.int64, [`B${gi}`, `S${gi}`]);
  const qIdx = g.input(I.qIndex(gi), DType.int64, [`B${gi}`, `S${gi}`]);
  const qg = g.op('Reshape', [g.op('Gather', [a.qT, qIdx], { axis: 1 }), g.constI64([0, 0, -1, d])]); // [kvh, B, S·G, d]
  const scale = { alpha: 1 / Math.sqrt(d), transA: 0, transB: 1 };
  const scores = g.op('Concat', [
    g.op('FusedMatMul', [qg, g.op('Gather', [pool, keyRows], { axis: 0 })], scale, 'com.microsoft'),
    g.op('FusedMatMul', [qg, g.op('Gather', [a.kT, newIdx], { axis: 1 })], scale, 'com.microsoft'),
  ], { axis: -1 }); // [kvh, B, S·G, P+S]
  const probs = g.op('Softmax', [g.op('Add', [scores, mask])], { axis: -1 });
  const [pc, pn] = g.opN('Split', [probs, g.input(I.splitSizes(gi), DType.int64, [2])], 2, { axis: -1 });
  const out = g.op('Add', [
    g.op('MatMul', [pc!, g.op('Gather', [pool, valueRows], { axis: 0 })]),
    g.op('MatMul', [pn!, g.op('Gather', [a.vT, newIdx], { axis: 1 })]),
  ]); // [kvh, B, S·G, d]
  const heads = g.op('Reshape', [out, g.constI64([0, 0, -1, G, d])]); // [kvh, B, S, G, d]
  return g.op('Reshape', [g.op('Transpose', [heads], { perm: [1, 2, 0, 3, 4] }), g.constI64([-1, headsLocal * d])]);
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
  let qFlat = qf!;
  let kFlat = kf!;
  if (cfg.architecture.qkNorm) {
    const perHead = (x: string, heads: number, name: string) =>
      g.op('Reshape', [rmsNorm(g, g.op('Reshape', [x, g.constI64([0, heads, d])]), name, w.get(`${name}.weight`, [d]).data, cfg.rmsNormEps), g.constI64([0, heads * d])]);
    qFlat = perHead(qFlat, hl, `${p}.q_norm`);
    kFlat = perHead(kFlat, kvl, `${p}.k_norm`);
  }
  const q = rotary(g, qFlat, hl, d); // [T, hl, d]
  const k = rotary(g, kFlat, kvl, d); // [T, kvl, d]
  const v = g.op('Reshape', [vf!, g.constI64([0, kvl, d])]);
  em.addKv(layer, k, v);
  const group = cfg.numHeads / cfg.numKvHeads;
  const a: LayerAttention = {
    layer,
    qT: g.op('Transpose', [g.op('Reshape', [q, g.constI64([0, kvl, group, d])])], { perm: [1, 0, 2, 3] }),
    kT: g.op('Transpose', [k], { perm: [1, 0, 2] }),
    vT: g.op('Transpose', [v], { perm: [1, 0, 2] }),
  };
  const groups = Array.from({ length: ATTENTION_GROUPS }, (_, gi) => groupAttention(em, ctx, a, gi));
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
