import { SamplingError } from './sampling-errors.js';
import type { TokenLogprob } from '../actors/protocol.js';

/** Largest entry of `values`; NaN entries are ignored, so an all-NaN row gives −Infinity. */
function maxOf(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  return max;
}

/** log Σ exp(values[i] − max), summed in index order in float64 (max-subtracted, so it cannot overflow). */
function logSumExpShifted(values: ArrayLike<number>, max: number): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i]! - max);
  return Math.log(sum);
}

/**
 * log_softmax(logits)[token], accumulated in float64: `(logits[token] − max) − log Σ exp(logits − max)`.
 * The sampler computes greedy logprobs with exactly these operations, so the two agree bit for bit.
 * @throws SamplingError when `token` is outside the row or no logit is finite.
 */
export function logSoftmaxAt(logits: ArrayLike<number>, token: number): number {
  if (!Number.isInteger(token) || token < 0 || token >= logits.length) {
    throw new SamplingError(`token ${token} is outside the logits row (width ${logits.length})`);
  }
  const max = finiteMax(logits);
  return logits[token]! - max - logSumExpShifted(logits, max);
}

/**
 * The `k` most likely tokens of log_softmax(logits), most likely first (ties: lower id first);
 * tokens whose logit is −Infinity are left out, so fewer than `k` may come back.
 * @throws SamplingError when no logit is finite.
 */
export function topK(logits: ArrayLike<number>, k: number): TokenLogprob[] {
  const max = finiteMax(logits);
  const logZ = logSumExpShifted(logits, max);
  const order = new Int32Array(Math.max(0, Math.min(k, logits.length)));
  const n = selectTopIndices(logits, order);
  const out: TokenLogprob[] = [];
  for (let j = 0; j < n; j++) out.push({ token: order[j]!, logprob: logits[order[j]!]! - max - logZ });
  return out;
}

/** The row's maximum, which must be finite for log-probabilities to exist. */
export function finiteMax(values: ArrayLike<number>): number {
  const max = maxOf(values);
  if (!Number.isFinite(max)) throw new SamplingError(`logits row has no finite maximum (max = ${max})`);
  return max;
}

/**
 * Fills `out` with the indices of the largest entries of `values` (as many as `out` holds), largest
 * first, ties by lower index; skips −Infinity and NaN. Returns how many it found. Insertion into a
 * short sorted list: O(n) for the usual k ≤ 20, no allocation.
 */
export function selectTopIndices(values: ArrayLike<number>, out: Int32Array): number {
  const k = out.length;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v > -Infinity)) continue;
    if (n === k && !(v > values[out[k - 1]!]!)) continue;
    let j = n < k ? n++ : k - 1;
    while (j > 0 && values[out[j - 1]!]! < v) {
      out[j] = out[j - 1]!;
      j--;
    }
    out[j] = i;
  }
  return n;
}
