/** A sampling parameter out of range or of the wrong type; `field` names it. */
export class SamplingParamError extends Error {
  override name = 'SamplingParamError';

  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field} ${problem}`);
  }
}

/** A logits row that cannot be sampled from (wrong width, nothing finite), or a token outside it. */
export class SamplingError extends Error {
  override name = 'SamplingError';
}
