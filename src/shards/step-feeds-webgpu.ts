import ort from 'onnxruntime-node';
import type { ModelConfig } from '../model/config.js';
import type { ShardLayout } from './shard-layout.js';
import type { StepDescriptor } from './step.js';
import { planAttentionGroups } from './attention-groups.js';
import { GraphInput } from './graph/segment-emitter.js';
import { toFloat16 } from './graph/float16.js';
import type { RopeTable } from './rope.js';
import { copyInto, groupRows, planStepRows } from './step-feeds.js';

/** Most negative finite float16: a masked score that survives the cast (−1e9 would be −Infinity). */
const FP16_MASKED = -65504;

/** Inputs of one WebGPU step (KV pools aside: the runtime feeds back its GPU tensors). */
export interface WebGpuStepFeeds {
  readonly feeds: Record<string, ort.Tensor>;
  readonly tokens: number;
  readonly logitRows: number;
}

/**
 * Builds a WebGPU shard's step inputs. Everything index-like is computed here on the host —
 * pool rows of every group's context (cached then new slots, per KV head), the pool rows the new
 * K/V are scattered to — so the graph holds only float math and gathers (FACTS.md: index math in
 * the graph landed on the CPU EP with memcpys around it).
 */
export function buildWebGpuStepFeeds(step: StepDescriptor, cfg: ModelConfig, layout: ShardLayout, rope: RopeTable, poolSlots: number, fp16: boolean): WebGpuStepFeeds {
  const { T, rowStart, ids, writeSlots, logitRows, cos, sin } = planStepRows(step, cfg, rope);
  const { kvHeadsLocal: kvh, headDim: d } = layout;
  const half = d / 2;
  const floats = (values: Float32Array, dims: readonly number[]) => (fp16 ? new ort.Tensor('float16', toFloat16(values), dims) : new ort.Tensor('float32', values, dims));
  const scatter = new BigInt64Array(2 * kvh * T);
  for (let kv = 0; kv < 2; kv++) {
    for (let h = 0; h < kvh; h++) {
      const base = (kv * kvh + h) * poolSlots;
      for (let t = 0; t < T; t++) scatter[(kv * kvh + h) * T + t] = BigInt(base + writeSlots[t]!);
    }
  }
  const feeds: Record<string, ort.Tensor> = {
    [GraphInput.inputIds]: new ort.Tensor('int32', ids, [T]),
    [GraphInput.ropeCos]: floats(cos, [T, half]),
    [GraphInput.ropeSin]: floats(sin, [T, half]),
    [GraphInput.ropePositions]: new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T]),
    [GraphInput.logitRows]: new ort.Tensor('int32', Int32Array.from(logitRows), [logitRows.length]),
    [GraphInput.scatterIndex]: new ort.Tensor('int64', scatter, [2 * kvh * T, 1]),
  };
  const outIndex = new Int32Array(T);
  let groupBase = 0;
  planAttentionGroups(step.sequences).forEach((group, gi) => {
    const { batch: B, queryLen: S, cachedLen: P } = group;
    const C = P + S;
    const { qRows, mask } = groupRows(group, step, rowStart, outIndex, groupBase, cfg.slidingWindow);
    // Context slots of each sequence: cached ones at 0..P, new ones at P..P+S (the mask's columns).
    const slots = new Int32Array(B * C);
    group.members.forEach((seqIdx, b) => {
      const s = step.sequences[seqIdx]!;
      copyInto(slots, b * C, s.cachedSlots);
      copyInto(slots, b * C + P, s.newSlots);
    });
    const keyRows = new Int32Array(kvh * B * C);
    const valueRows = new Int32Array(kvh * B * C);
    for (let h = 0; h < kvh; h++) {
      for (let i = 0; i < B * C; i++) {
        keyRows[h * B * C + i] = h * poolSlots + slots[i]!;
        valueRows[h * B * C + i] = (kvh + h) * poolSlots + slots[i]!;
      }
    }
    if (fp16) for (let i = 0; i < mask.length; i++) mask[i] = Math.max(mask[i]!, FP16_MASKED);
    feeds[GraphInput.keyRows(gi)] = new ort.Tensor('int32', keyRows, [kvh, B, C]);
    feeds[GraphInput.valueRows(gi)] = new ort.Tensor('int32', valueRows, [kvh, B, C]);
    feeds[GraphInput.qIndex(gi)] = new ort.Tensor('int32', qRows, [B, S]);
    feeds[GraphInput.mask(gi)] = floats(mask, [B, 1, S, C]);
    groupBase += B * S;
  });
  feeds[GraphInput.attnOutIndex] = new ort.Tensor('int32', outIndex, [T]);
  return { feeds, tokens: T, logitRows: logitRows.length };
}
