import { SamplingParamError } from './sampling-errors.js';
import { previewValue } from '../util/value-preview.js';

/**
 * How one request's next token is chosen from its logits row. Semantics follow SGLang / OpenAI;
 * `Sampler` (sampling.ts) documents the order in which they apply.
 */
export interface SamplingParams {
  /** Divides the logits; at or below {@link GREEDY_TEMPERATURE} the token is the argmax. */
  readonly temperature: number;
  /** Keep only the k most likely tokens; -1 keeps all. */
  readonly topK: number;
  /** Keep the smallest set of most likely tokens whose mass reaches topP; 1 keeps all. */
  readonly topP: number;
  /** Drop tokens less likely than minP × the most likely token's probability; 0 keeps all. */
  readonly minP: number;
  /** Subtracted from a token's logit once per time it was generated (OpenAI). */
  readonly frequencyPenalty: number;
  /** Subtracted from a token's logit if it was generated at all (OpenAI). */
  readonly presencePenalty: number;
  /** For tokens seen in the prompt or output: positive logits ÷ penalty, others × penalty (HF / SGLang). 1 = off. */
  readonly repetitionPenalty: number;
  /** Added to the logits of the given token ids (OpenAI `logit_bias`). */
  readonly logitBias: Readonly<Record<number, number>>;
}

/** Temperatures at or below this sample greedily. */
export const GREEDY_TEMPERATURE = 1e-6;

/**
 * Bounds of repetitionPenalty (SGLang's range is [0, 2]). Seen tokens' logits are divided or
 * multiplied by it, so a denormal (1e-323) or huge value turns them into ±Infinity, and a row
 * without a finite maximum stops the scheduler; 2^-126, the smallest normal float32, keeps every
 * float32 logit finite in float64.
 */
export const MIN_REPETITION_PENALTY = 2 ** -126;
export const MAX_REPETITION_PENALTY = 2;

/** Parameters that leave the model's distribution as it is (temperature 1, nothing truncated). */
export const DEFAULT_SAMPLING_PARAMS: SamplingParams = Object.freeze({
  temperature: 1,
  topK: -1,
  topP: 1,
  minP: 0,
  frequencyPenalty: 0,
  presencePenalty: 0,
  repetitionPenalty: 1,
  logitBias: Object.freeze({}),
});

/**
 * Checks every field of `params` (also at run time, for values that came from JSON).
 * @param vocabSize width of the logits rows, bounding logitBias keys.
 * @throws SamplingParamError naming the first bad field.
 */
export function validateSamplingParams(params: SamplingParams, vocabSize: number): void {
  const { temperature, topK, topP, minP, frequencyPenalty, presencePenalty, repetitionPenalty, logitBias } = params;
  finite('temperature', temperature);
  if (temperature < 0) fail('temperature', temperature, 'must be >= 0');
  finite('topK', topK);
  if (!Number.isInteger(topK) || topK === 0 || topK < -1) fail('topK', topK, 'must be -1 (all) or an integer >= 1');
  finite('topP', topP);
  if (!(topP > 0 && topP <= 1)) fail('topP', topP, 'must be in (0, 1]');
  finite('minP', minP);
  if (!(minP >= 0 && minP <= 1)) fail('minP', minP, 'must be in [0, 1]');
  finite('frequencyPenalty', frequencyPenalty);
  if (Math.abs(frequencyPenalty) > 2) fail('frequencyPenalty', frequencyPenalty, 'must be in [-2, 2]');
  finite('presencePenalty', presencePenalty);
  if (Math.abs(presencePenalty) > 2) fail('presencePenalty', presencePenalty, 'must be in [-2, 2]');
  finite('repetitionPenalty', repetitionPenalty);
  if (!(repetitionPenalty >= MIN_REPETITION_PENALTY && repetitionPenalty <= MAX_REPETITION_PENALTY)) {
    fail('repetitionPenalty', repetitionPenalty, `must be in [2^-126, ${MAX_REPETITION_PENALTY}]`);
  }
  if (logitBias === null || typeof logitBias !== 'object' || Array.isArray(logitBias)) {
    fail('logitBias', logitBias, 'must be an object mapping token ids to numbers');
  }
  for (const key of Object.keys(logitBias)) {
    const field = `logitBias[${key}]`;
    if (!/^(0|[1-9]\d*)$/.test(key) || Number(key) >= vocabSize) {
      fail(field, key, `key must be a token id in [0, ${vocabSize})`);
    }
    finite(field, (logitBias as Record<string, unknown>)[key]);
  }
}

function finite(field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(field, value, 'must be a finite number');
}

function fail(field: string, value: unknown, rule: string): never {
  throw new SamplingParamError(field, `${rule} (got ${previewValue(value)})`);
}
