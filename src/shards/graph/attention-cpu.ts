import { DType } from './onnx-builder.js';
import { GraphInput, type BuildContext, type SegmentEmitter } from './segment-emitter.js';

/** Attention groups per step: sequences are packed into this many padded blocks (decode-like and prefill-like). */
export const ATTENTION_GROUPS = 2;

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


/**
 * CPU attention of one layer: the new K/V leave the graph (`new_kv`) and the shard writes them into
 * its host pool after the step; scores against the cached and the new keys are computed apart.
 * `q` [T, hl, d], `k`/`v` [T, kvl, d]; returns [T, hl·d].
 */
export function cpuAttention(em: SegmentEmitter, ctx: BuildContext, layer: number, q: string, k: string, v: string): string {
  const g = em.g;
  const { kvHeadsLocal: kvl, headDim: d, groupSize: group } = ctx.layout;
  em.addKv(layer, k, v);
  const a: LayerAttention = {
    layer,
    qT: g.op('Transpose', [g.op('Reshape', [q, g.constI64([0, kvl, group, d])])], { perm: [1, 0, 2, 3] }),
    kT: g.op('Transpose', [k], { perm: [1, 0, 2] }),
    vT: g.op('Transpose', [v], { perm: [1, 0, 2] }),
  };
  const groups = Array.from({ length: ATTENTION_GROUPS }, (_, gi) => groupAttention(em, ctx, a, gi));
  return g.op('Gather', [g.op('Concat', groups, { axis: 0 }), g.input(GraphInput.attnOutIndex, DType.int64, ['T'])], { axis: 0 });
}
