import { SamplingError } from './sampling-errors.js';
import { finiteMax, selectTopIndices } from './sampling-logprobs.js';
import type { TokenLogprob } from '../actors/protocol.js';
import { GREEDY_TEMPERATURE } from './sampling-params.js';
import type { SamplingParams } from './sampling-params.js';
import type { SamplingState } from './sampling-state.js';

export { DEFAULT_SAMPLING_PARAMS, GREEDY_TEMPERATURE, validateSamplingParams } from './sampling-params.js';
export type { SamplingParams } from './sampling-params.js';
export { SamplingError, SamplingParamError } from './sampling-errors.js';
export { logSoftmaxAt, topK } from './sampling-logprobs.js';
export type { TokenLogprob } from '../actors/protocol.js';
export { createSamplingState, recordOutputToken } from './sampling-state.js';
export type { SamplingState } from './sampling-state.js';

/** The chosen token, its log-probability, and (when asked) the most likely alternatives. */
export interface SampledToken extends TokenLogprob {
  readonly topLogprobs?: readonly TokenLogprob[];
}

// Top-k and top-p keep a most-likely-first prefix of the row. Rather than sort the row, tokens are
// binned by how far below the top logit they lie (1/8 nat per bin; the last bin catches the rest):
// bins wholly inside the prefix are kept as they are, and only the bin where it ends is sorted.
const BINS = 256;
const BINS_PER_NAT = 8;

/**
 * Picks the next token from one logits row. One Sampler per logits width, reused for every row:
 * it owns the scratch arrays, so a call allocates only its result.
 *
 * Order (SGLang's): repetition penalty (tokens of prompt + output) → frequency and presence
 * penalties (output counts) → logit bias → greedy argmax (temperature ≤ 1e-6, first index on ties)
 * or ÷ temperature → top-k, top-p and min-p, each judged on the full tempered distribution
 * ("joint", as SGLang's sampling kernels) → a draw from the kept tokens, renormalised.
 *
 * Logprobs (SGLang's default): log_softmax of the penalised logits, divided by the temperature when
 * sampling (not when greedy), before truncation. So with no penalties a greedy logprob is exactly
 * `logSoftmaxAt(logits, token)`.
 */
export class Sampler {
  private readonly work: Float64Array;
  private readonly probs: Float64Array;
  private readonly binOf: Uint8Array;
  private readonly candidates: Int32Array;
  private readonly binCount = new Int32Array(BINS);
  private readonly binMass = new Float64Array(BINS);
  private topOrder = new Int32Array(0);
  // Most likely first, ties by lower id: the order in which the edge bin's tokens are kept.
  private readonly byProbability = (a: number, b: number): number => this.probs[b]! - this.probs[a]! || a - b;

  constructor(readonly vocabSize: number) {
    this.work = new Float64Array(vocabSize);
    this.probs = new Float64Array(vocabSize);
    this.binOf = new Uint8Array(vocabSize);
    this.candidates = new Int32Array(vocabSize);
  }

  /**
   * The greedy token (penalties and bias applied, first index on ties) without computing any
   * probability: the per-step fast path when a greedy request asked for no logprobs.
   */
  greedyToken(logits: Float32Array, params: SamplingParams, state: SamplingState): number {
    if (logits.length !== this.vocabSize) {
      throw new SamplingError(`logits row has width ${logits.length}, the sampler ${this.vocabSize}`);
    }
    // Without penalties or bias the row is read in place: a vocabulary-sized copy per row per step showed in profiles.
    if (!hasAdjustments(params)) return rowArgmax(logits);
    this.work.set(logits);
    applyPenalties(this.work, params, state);
    return argmax(this.work);
  }

  /**
   * Samples one token. `params` must have passed `validateSamplingParams`; `state` is not updated
   * (call `recordOutputToken` once the token is accepted). Draws one number from `state.rng` unless greedy.
   * @param wantTopLogprobs how many most likely tokens to report (0: no `topLogprobs`).
   * @throws SamplingError when the row's width is not `vocabSize` or no logit is finite.
   */
  sample(logits: Float32Array, params: SamplingParams, state: SamplingState, wantTopLogprobs = 0): SampledToken {
    if (logits.length !== this.vocabSize) {
      throw new SamplingError(`logits row has width ${logits.length}, the sampler ${this.vocabSize}`);
    }
    const work = this.work;
    work.set(logits);
    applyPenalties(work, params, state);
    const greedy = params.temperature <= GREEDY_TEMPERATURE;
    if (!greedy && params.temperature !== 1) {
      for (let i = 0; i < work.length; i++) work[i] = work[i]! / params.temperature;
    }
    const max = finiteMax(work);
    // Summed in index order as logSoftmaxAt sums, so greedy logprobs equal its results bit for bit.
    let total = 0;
    for (let i = 0; i < work.length; i++) {
      const p = Math.exp(work[i]! - max);
      this.probs[i] = p;
      total += p;
    }
    const logZ = Math.log(total);
    const token = greedy ? argmax(work) : this.draw(max, total, params, state.rng.nextFloat());
    const logprob = work[token]! - max - logZ;
    if (wantTopLogprobs <= 0) return { token, logprob };
    if (this.topOrder.length !== wantTopLogprobs) this.topOrder = new Int32Array(wantTopLogprobs);
    const n = selectTopIndices(work, this.topOrder);
    const topLogprobs: TokenLogprob[] = [];
    for (let j = 0; j < n; j++) {
      const t = this.topOrder[j]!;
      topLogprobs.push({ token: t, logprob: work[t]! - max - logZ });
    }
    return { token, logprob, topLogprobs };
  }

  /**
   * Draws with the uniform number `u` from the tempered row in `work` (maximum `max`), whose
   * unnormalised probabilities exp(work − max) are in `probs` and sum to `total`.
   */
  private draw(max: number, total: number, params: SamplingParams, u: number): number {
    const { work, probs, candidates, binOf } = this;
    const vocab = work.length;
    const topK = params.topK > 0 && params.topK < vocab ? params.topK : vocab;
    const byMass = params.topP < 1;
    const pMass = params.topP * total;
    const minP = params.minP;
    if (topK === vocab && !byMass && minP <= 0) return walk(probs, null, vocab, u * total);

    const edge = topK < vocab || byMass ? this.edgeBin(max, topK, byMass ? pMass : Infinity) : BINS;
    // Bins before the edge go to the front of `candidates`, the edge bin to the back. min-p is a
    // plain threshold (the top token's p is 1): it drops the least likely tokens of any prefix.
    let inner = 0;
    let atEdge = 0;
    let mass = 0;
    for (let i = 0; i < vocab; i++) {
      const p = probs[i]!;
      if (p < minP) continue;
      if (edge === BINS || binOf[i]! < edge) {
        candidates[inner++] = i;
        mass += p;
      } else if (binOf[i] === edge) {
        candidates[vocab - 1 - atEdge++] = i;
      }
    }
    const edgeTokens = candidates.subarray(vocab - atEdge).sort(this.byProbability);
    // The edge bin's tokens stay while top-k and top-p (judged on the whole row) still keep them.
    let kept = 0;
    while (kept < atEdge && inner + kept < topK && (!byMass || mass <= pMass)) mass += probs[edgeTokens[kept++]!]!;
    candidates.copyWithin(inner, vocab - atEdge, vocab - atEdge + kept);
    return walk(probs, candidates, inner + kept, u * mass);
  }

  /**
   * Bins the row and returns the bin where the top-k / top-p prefix ends: the first bin at which
   * the running count reaches `topK` or the running mass exceeds `pMass`; BINS when neither does.
   */
  private edgeBin(max: number, topK: number, pMass: number): number {
    const { work, probs, binOf, binCount, binMass } = this;
    binCount.fill(0);
    binMass.fill(0);
    for (let i = 0; i < work.length; i++) {
      const bin = Math.min(BINS - 1, Math.floor((max - work[i]!) * BINS_PER_NAT));
      binOf[i] = bin;
      binCount[bin]!++;
      binMass[bin]! += probs[i]!;
    }
    let count = 0;
    let mass = 0;
    for (let bin = 0; bin < BINS; bin++) {
      count += binCount[bin]!;
      mass += binMass[bin]!;
      if (count >= topK || mass > pMass) return bin;
    }
    return BINS;
  }
}

function applyPenalties(work: Float64Array, params: SamplingParams, state: SamplingState): void {
  const { repetitionPenalty, frequencyPenalty, presencePenalty, logitBias } = params;
  if (repetitionPenalty !== 1) {
    for (const t of state.seenTokens) {
      const x = work[t]!;
      work[t] = x > 0 ? x / repetitionPenalty : x * repetitionPenalty;
    }
  }
  if (frequencyPenalty !== 0 || presencePenalty !== 0) {
    state.outputCounts.forEach((count, t) => {
      work[t] = work[t]! - frequencyPenalty * count - presencePenalty;
    });
  }
  for (const key in logitBias) work[Number(key)] = work[Number(key)]! + logitBias[Number(key)]!;
}

function hasAdjustments(params: SamplingParams): boolean {
  if (params.repetitionPenalty !== 1 || params.frequencyPenalty !== 0 || params.presencePenalty !== 0) return true;
  for (const _ in params.logitBias) return true;
  return false;
}

/** Index of the largest entry, the first one on ties. */
function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * {@link argmax} of a logits row in place. Kept apart from `argmax` so each loop sees one array
 * type (a shared, polymorphic one measured slower): this runs once per greedy row per step.
 */
function rowArgmax(values: Float32Array): number {
  let best = 0;
  let top = values[0]!;
  const n = values.length;
  for (let i = 1; i < n; i++) {
    const v = values[i]!;
    if (v > top) {
      top = v;
      best = i;
    }
  }
  return best;
}

/**
 * The first token of `order[0…n)` (ids 0…n when `order` is null) at which the running sum of
 * `probs` exceeds `target`; rounding can leave `target` just past the sum, then the last token
 * with mass.
 */
function walk(probs: Float64Array, order: Int32Array | null, n: number, target: number): number {
  let acc = 0;
  let last = order === null ? 0 : order[0]!;
  for (let j = 0; j < n; j++) {
    const t = order === null ? j : order[j]!;
    const p = probs[t]!;
    if (p <= 0) continue;
    acc += p;
    last = t;
    if (acc > target) return t;
  }
  return last;
}
