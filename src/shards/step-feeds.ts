import ort from 'onnxruntime-node';
import type { ModelConfig } from '../model/config.js';
import type { ShardLayout } from './shard-layout.js';
import type { StepDescriptor } from './step.js';
import { planAttentionGroups } from './attention-groups.js';
import type { AttentionGroup } from './attention-groups.js';
import { GraphInput } from './graph/transformer.js';
import type { RopeTable } from './rope.js';

/** The additive mask of a key a query may not see (fp16 feeds clamp it to their most negative value). */
export const MASKED = -1e9;

/** Input tensors of one step, shared by every segment of a shard (each segment takes what it declares). */
export interface StepFeeds {
  readonly feeds: Record<string, ort.Tensor>;
  readonly tokens: number;
  readonly logitRows: number;
  /** Pool slot of each new token, in step row order (where its K/V are written). */
  readonly writeSlots: Int32Array;
}

const i64 = (values: ArrayLike<number>, dims: readonly number[] = [values.length]) =>
  new ort.Tensor('int64', BigInt64Array.from(Array.prototype.map.call(values, (v: number) => BigInt(v)) as bigint[]), dims);

/** A step's tokens in row order (sequence after sequence), as every device's feeds need them. */
export interface StepRows {
  /** Tokens in the step. */
  readonly T: number;
  /** First row of each sequence. */
  readonly rowStart: readonly number[];
  readonly ids: Int32Array;
  readonly positions: Int32Array;
  /** Pool slot of each new token, in row order (where its K/V are written). */
  readonly writeSlots: Int32Array;
  /** Rows whose logits are returned. */
  readonly logitRows: number[];
  /** Rotary cos / sin rows [T, headDim / 2] of each token's position. */
  readonly cos: Float32Array;
  readonly sin: Float32Array;
}

/** Lays a step's sequences out as rows and fills their rotary rows. */
export function planStepRows(step: StepDescriptor, cfg: ModelConfig, rope: RopeTable): StepRows {
  const seqs = step.sequences;
  const rowStart: number[] = [];
  let T = 0;
  for (const s of seqs) {
    rowStart.push(T);
    T += s.tokens.length;
  }
  const ids = new Int32Array(T);
  const positions = new Int32Array(T);
  const writeSlots = new Int32Array(T);
  const logitRows: number[] = [];
  seqs.forEach((s, i) => {
    for (let t = 0; t < s.tokens.length; t++) {
      const row = rowStart[i]! + t;
      ids[row] = s.tokens[t]!;
      positions[row] = s.cachedSlots.length + t;
      writeSlots[row] = s.newSlots[t]!;
      if (t >= s.logitsFrom) logitRows.push(row);
    }
  });
  const half = cfg.headDim / 2;
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  rope.fill(positions, cos, sin);
  return { T, rowStart, ids, positions, writeSlots, logitRows, cos, sin };
}

/** Builds the ORT inputs of a step for one CPU shard: token ids, rotary rows, attention-group indices and masks. */
export function buildStepFeeds(
  step: StepDescriptor,
  cfg: ModelConfig,
  layout: ShardLayout,
  rope: RopeTable,
  pool: Float32Array,
  poolSlots: number,
): StepFeeds {
  const { T, rowStart, ids, writeSlots, logitRows, cos, sin } = planStepRows(step, cfg, rope);
  const half = cfg.headDim / 2;
  const { kvHeadsLocal: kvh, headDim: d } = layout;
  const feeds: Record<string, ort.Tensor> = {
    [GraphInput.inputIds]: i64(ids),
    [GraphInput.ropeCos]: new ort.Tensor('float32', cos, [T, half]),
    [GraphInput.ropeSin]: new ort.Tensor('float32', sin, [T, half]),
    [GraphInput.ropePositions]: new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T]),
    [GraphInput.kvStride]: i64([poolSlots]),
    [GraphInput.logitRows]: i64(logitRows),
  };
  // Each layer's pool is a zero-copy view [2·kvh·slots, d] of the shard's one ArrayBuffer.
  const layerFloats = 2 * kvh * poolSlots * d;
  for (let l = 0; l < cfg.numLayers; l++) {
    feeds[GraphInput.kvPool(l)] = new ort.Tensor('float32', pool.subarray(l * layerFloats, (l + 1) * layerFloats), [2 * kvh * poolSlots, d]);
  }
  const outIndex = new Int32Array(T);
  let groupBase = 0;
  planAttentionGroups(step.sequences).forEach((group, gi) => {
    addGroupFeeds(feeds, gi, group, step, rowStart, outIndex, groupBase, cfg.slidingWindow);
    feeds[GraphInput.splitSizes(gi)] = i64([group.cachedLen, group.queryLen]);
    groupBase += group.batch * group.queryLen;
  });
  feeds[GraphInput.attnOutIndex] = i64(outIndex);
  return { feeds, tokens: T, logitRows: logitRows.length, writeSlots };
}

/** The query rows and additive mask of one padded attention group, shared by every device's feeds. */
export interface GroupRows {
  /** Step row of each (sequence b, query q) at b·S + q (padding: row 0, masked). */
  readonly qRows: Int32Array;
  /** [B, S, C] with C = P + S: 0 where query (b, q) may attend cached key j (< P) or new key P + k, else MASKED. */
  readonly mask: Float32Array;
}

/**
 * Lays out one group: query rows, the causal (and sliding-window) mask over its cached then new
 * keys, and where each of its rows lands in the concatenated group outputs (`outIndex`).
 */
export function groupRows(group: AttentionGroup, step: StepDescriptor, rowStart: readonly number[], outIndex: Int32Array, groupBase: number, window: number | null): GroupRows {
  const { batch: B, queryLen: S, cachedLen: P } = group;
  const C = P + S;
  const qRows = new Int32Array(B * S);
  const mask = new Float32Array(B * S * C).fill(MASKED);
  group.members.forEach((seqIdx, b) => {
    const s = step.sequences[seqIdx]!;
    const cached = s.cachedSlots.length;
    for (let q = 0; q < s.tokens.length; q++) {
      const row = rowStart[seqIdx]! + q;
      qRows[b * S + q] = row;
      outIndex[row] = groupBase + b * S + q;
      const qPos = cached + q;
      const lowest = window === null ? 0 : qPos - window + 1;
      const m = (b * S + q) * C;
      for (let j = Math.max(0, lowest); j < cached; j++) mask[m + j] = 0;
      for (let k = Math.max(0, lowest - cached); k <= q; k++) mask[m + P + k] = 0;
    }
  });
  return { qRows, mask };
}

function addGroupFeeds(
  feeds: Record<string, ort.Tensor>,
  gi: number,
  group: AttentionGroup,
  step: StepDescriptor,
  rowStart: readonly number[],
  outIndex: Int32Array,
  groupBase: number,
  window: number | null,
): void {
  const { batch: B, queryLen: S, cachedLen: P } = group;
  const { qRows, mask } = groupRows(group, step, rowStart, outIndex, groupBase, window);
  const cacheIndex = new Int32Array(B * P);
  group.members.forEach((seqIdx, b) => copyInto(cacheIndex, b * P, step.sequences[seqIdx]!.cachedSlots));
  feeds[GraphInput.qIndex(gi)] = i64(qRows, [B, S]);
  feeds[GraphInput.newIndex(gi)] = i64(qRows, [B, S]);
  feeds[GraphInput.cacheIndex(gi)] = new ort.Tensor('int32', cacheIndex, [B, P]);
  feeds[GraphInput.mask(gi)] = new ort.Tensor('float32', mask, [B, S, 1, P + S]);
}

/** `dst.set(src, at)` for typed arrays (one memcpy: slot-table views), element by element otherwise. */
export function copyInto(dst: Int32Array, at: number, src: ArrayLike<number>): void {
  if (src instanceof Int32Array) dst.set(src, at);
  else for (let j = 0; j < src.length; j++) dst[at + j] = src[j]!;
}
