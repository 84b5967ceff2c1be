import { DType } from './onnx-builder.js';
import { ATTENTION_GROUPS } from './attention-cpu.js';
import { GraphInput, type BuildContext, type SegmentEmitter } from './segment-emitter.js';

/**
 * WebGPU attention of one layer. The layer's pool [2·kvh·slots, d] is a GPU buffer fed back every
 * step: the step's new K/V are scattered into it first (ScatterND at host-computed pool rows), and
 * the updated pool leaves the graph as `kv_pool_out_<layer>`, so no KV crosses to the host. Each
 * group then gathers its whole context (cached and new, rows computed on the host, int32) from the
 * updated pool and runs one masked softmax over it — no index math, int64 or contrib op in the
 * graph, so every node can stay on the GPU. The G query heads of a KV head broadcast over its keys
 * ([kvh, B, G, S, d] × [kvh, B, 1, d, C]). `q` [T, hl, d], `k`/`v` [T, kvl, d]; returns [T, hl·d].
 */
export function webgpuAttention(em: SegmentEmitter, ctx: BuildContext, layer: number, q: string, k: string, v: string): string {
  const g = em.g;
  const { act, layout } = ctx;
  const { kvHeadsLocal: kvl, headDim: d, headsLocal: hl, groupSize: G } = layout;
  const I = GraphInput;
  const updates = g.op('Reshape', [g.op('Concat', [g.op('Transpose', [k], { perm: [1, 0, 2] }), g.op('Transpose', [v], { perm: [1, 0, 2] })], { axis: 0 }), g.constI64([-1, d])]);
  const poolIn = g.input(I.kvPool(layer), act, ['pool_rows', d]);
  const pool = g.opTo(I.kvPoolOut(layer), 'ScatterND', [poolIn, g.input(I.scatterIndex, DType.int64, ['W', 1]), updates]);
  em.addPool(layer, pool);
  // Queries scaled once: 1/√d folded in before the score MatMul (no FusedMatMul kernel on WebGPU).
  const qs = g.op('Mul', [g.op('Reshape', [q, g.constI64([0, kvl, G, d])]), g.constFloat(1 / Math.sqrt(d), act)]); // [T, kvl, G, d]
  const groups = Array.from({ length: ATTENTION_GROUPS }, (_, gi) => {
    const rows = (name: string) => g.input(name, ctx.index, [kvl, `B${gi}`, `C${gi}`]);
    const keys = g.op('Unsqueeze', [g.op('Gather', [pool, rows(I.keyRows(gi))], { axis: 0 }), g.constI64([2])]); // [kvl, B, 1, C, d]
    const values = g.op('Unsqueeze', [g.op('Gather', [pool, rows(I.valueRows(gi))], { axis: 0 }), g.constI64([2])]);
    const qg = g.op('Transpose', [g.op('Gather', [qs, g.input(I.qIndex(gi), ctx.index, [`B${gi}`, `S${gi}`])], { axis: 0 })], { perm: [2, 0, 3, 1, 4] }); // [kvl, B, G, S, d]
    const scores = g.op('MatMul', [qg, g.op('Transpose', [keys], { perm: [0, 1, 2, 4, 3] })]); // [kvl, B, G, S, C]
    const mask = g.input(I.mask(gi), act, [`B${gi}`, 1, `S${gi}`, `C${gi}`]);
    const probs = g.op('Softmax', [g.op('Add', [scores, mask])], { axis: -1 });
    const out = g.op('MatMul', [probs, values]); // [kvl, B, G, S, d]
    return g.op('Reshape', [g.op('Transpose', [out], { perm: [1, 3, 0, 2, 4] }), g.constI64([-1, hl * d])]); // [B·S, hl·d]
  });
  return g.op('Gather', [g.op('Concat', groups, { axis: 0 }), g.input(I.attnOutIndex, ctx.index, ['T'])], { axis: 0 });
}
