import { Rng } from './rng.js';

/** Per-request memory the sampler reads: its random stream and which tokens it has seen. */
export interface SamplingState {
  readonly rng: Rng;
  /** How often each token was generated so far (frequency / presence penalties). */
  readonly outputCounts: Map<number, number>;
  /** Every token of the prompt and the output so far (repetition penalty). */
  readonly seenTokens: Set<number>;
}

/**
 * State for a new request. Without `seed` the stream is seeded from node:crypto (`state.rng.seed`
 * tells which seed, so the output can be reproduced).
 * @throws SamplingParamError naming `seed` when it is not a safe integer.
 */
export function createSamplingState(promptIds: Iterable<number>, seed?: number): SamplingState {
  return {
    rng: seed === undefined ? Rng.fromEntropy() : Rng.fromSeed(seed),
    outputCounts: new Map(),
    seenTokens: new Set(promptIds),
  };
}

/** Records a generated token, so later steps penalise it. */
export function recordOutputToken(state: SamplingState, token: number): void {
  state.outputCounts.set(token, (state.outputCounts.get(token) ?? 0) + 1);
  state.seenTokens.add(token);
}
