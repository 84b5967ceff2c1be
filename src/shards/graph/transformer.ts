import type { ModelConfig } from '../../model/config.js';
import type { WeightStore } from '../../model/weights.js';
import type { ShardLayout } from '../shard-layout.js';
import type { GraphTarget } from '../device.js';
import { DType, type FloatType, type OnnxGraphBuilder } from './onnx-builder.js';
import type { WeightFile } from './weight-file.js';
import { emitLinear, floatWeight } from './linear.js';
import { concatRows, readRowSlice, sliceCols } from './weight-slices.js';
import { cpuAttention } from './attention-cpu.js';
import { webgpuAttention } from './attention-webgpu.js';
import { buildContext, GraphInput, SegmentEmitter, type BuildContext, type GraphSegment } from './segment-emitter.js';

export { GraphInput, type GraphSegment } from './segment-emitter.js';
export { ATTENTION_GROUPS } from './attention-cpu.js';

function rmsNorm(g: OnnxGraphBuilder, x: string, weightName: string, weight: Float32Array, eps: number, act: FloatType): string {
  const scale = floatWeight(g, weightName, [weight.length], weight, act);
  return g.op('SimplifiedLayerNormalization', [x, scale], { axis: -1, epsilon: eps, stash_type: 1 });
}

/**
 * Rotate-half rotary embedding (com.microsoft RotaryEmbedding) of x [T, heads·d]; returns
 * [T, heads, d]. The cos/sin rows are the step's tokens' own (position_ids 0..T-1 index them).
 */
function rotary(g: OnnxGraphBuilder, x: string, heads: number, headDim: number, act: FloatType): string {
  const I = GraphInput;
  const rotated = g.op(
    'RotaryEmbedding',
    [
      g.op('Unsqueeze', [x, g.constI64([0])]),
      g.input(I.ropePositions, DType.int64, [1, 'T']),
      g.input(I.ropeCos, act, ['T', headDim / 2]),
      g.input(I.ropeSin, act, ['T', headDim / 2]),
    ],
    { interleaved: 0 },
    'com.microsoft',
  );
  return g.op('Reshape', [rotated, g.constI64([-1, heads, headDim])]);
}

function emitAttention(em: SegmentEmitter, ctx: BuildContext, layer: number, x: string): string {
  const { cfg, w, layout, act } = ctx;
  const dtype = ctx.target.dtype;
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
  const qkv = emitLinear(g, x, `${p}.qkv`, concatRows([wq, wk, wv]), qkvOut, H, dtype, act, bias);
  const [qf, kf, vf] = g.opN('Split', [qkv, g.constI64([hl * d, kvl * d, kvl * d])], 3, { axis: -1 });
  let qFlat = qf!;
  let kFlat = kf!;
  if (cfg.architecture.qkNorm) {
    const perHead = (x: string, heads: number, name: string) =>
      g.op('Reshape', [rmsNorm(g, g.op('Reshape', [x, g.constI64([0, heads, d])]), name, w.get(`${name}.weight`, [d]).data, cfg.rmsNormEps, act), g.constI64([0, heads * d])]);
    qFlat = perHead(qFlat, hl, `${p}.q_norm`);
    kFlat = perHead(kFlat, kvl, `${p}.k_norm`);
  }
  const q = rotary(g, qFlat, hl, d, act); // [T, hl, d]
  const k = rotary(g, kFlat, kvl, d, act); // [T, kvl, d]
  const v = g.op('Reshape', [vf!, g.constI64([0, kvl, d])]);
  const attend = ctx.target.device === 'webgpu' ? webgpuAttention : cpuAttention;
  const attn = attend(em, ctx, layer, q, k, v);
  const wo = sliceCols(w.get(`${p}.o_proj.weight`, [H, qRows]).data, H, qRows, rank * hl * d, hl * d);
  const oBias = cfg.architecture.oBias && rank === 0 ? w.get(`${p}.o_proj.bias`, [H]).data : undefined;
  return emitLinear(g, attn, `${p}.o_proj`, wo, H, hl * d, dtype, act, oBias);
}

function emitMlp(em: SegmentEmitter, ctx: BuildContext, layer: number, x: string): string {
  const { cfg, w, layout, act } = ctx;
  const dtype = ctx.target.dtype;
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
  const gu = emitLinear(g, x, `${p}.gate_up`, gateUp, 2 * il, H, dtype, act);
  const [gate, up] = g.opN('Split', [gu, g.constI64([il, il])], 2, { axis: -1 });
  const silu = g.op('Mul', [g.op('Mul', [gate!, g.op('Sigmoid', [gate!])]), up!]);
  const down = sliceCols(w.get(`${p}.down_proj.weight`, [H, I]).data, H, I, start, il);
  return emitLinear(g, silu, `${p}.down_proj`, down, H, il, dtype, act);
}

/**
 * Emits a shard's transformer as ONNX segment(s): the whole model in one graph when tp = 1, or
 * 2·layers + 1 graphs cut at each row-parallel all-reduce when tp > 1.
 */
export function buildShardGraphs(
  cfg: ModelConfig,
  w: WeightStore,
  layout: ShardLayout,
  target: GraphTarget,
  file: WeightFile,
): GraphSegment[] {
  const ctx = buildContext(cfg, w, layout, target);
  const { act } = ctx;
  const em = new SegmentEmitter(ctx, file);
  const H = cfg.hiddenSize;
  const embedName = 'model.embed_tokens.weight';
  const embed = w.get(embedName, [cfg.vocabSize, H]).data;
  const norm = (x: string, name: string) => rmsNorm(em.g, x, name, w.get(`${name}.weight`, [H]).data, cfg.rmsNormEps, act);
  let h = em.g.op('Gather', [floatWeight(em.g, embedName, [cfg.vocabSize, H], embed, act), em.g.input(GraphInput.inputIds, ctx.index, ['T'])], { axis: 0 });
  for (let l = 0; l < cfg.numLayers; l++) {
    h = em.reduce(h, emitAttention(em, ctx, l, norm(h, `model.layers.${l}.input_layernorm`)));
    h = em.reduce(h, emitMlp(em, ctx, l, norm(h, `model.layers.${l}.post_attention_layernorm`)));
  }
  const rows = em.g.op('Gather', [h, em.g.input(GraphInput.logitRows, ctx.index, ['R'])], { axis: 0 });
  const headName = cfg.tieWordEmbeddings ? embedName : 'lm_head.weight';
  const head = cfg.tieWordEmbeddings ? embed : w.get(headName, [cfg.vocabSize, H]).data;
  const headSlice = head.subarray(layout.vocabStart * H, (layout.vocabStart + layout.vocabLocal) * H);
  const logits = emitLinear(em.g, norm(rows, 'model.norm'), 'lm_head', headSlice, layout.vocabLocal, H, target.dtype, act);
  return em.finish(logits);
}
