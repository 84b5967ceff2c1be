/** One sequence's part of a forward step. */
export interface StepSequence {
  /** Token ids computed this step (prefill chunk, extend, or one decode token). */
  readonly tokens: ArrayLike<number>;
  /** KV slots of the already-cached prefix, in position order; its length is the first new token's position. */
  readonly cachedSlots: ArrayLike<number>;
  /** KV slots that receive the new tokens' K/V (one per token). */
  readonly newSlots: ArrayLike<number>;
  /** Logits are returned for new tokens at index ≥ logitsFrom (tokens.length: none; tokens.length-1: the last). */
  readonly logitsFrom: number;
  /**
   * The slot-table row holding `cachedSlots` then `newSlots` (scheduler steps): a step channel then
   * sends only (row, cached length), and the slots were range-checked when written to the table.
   * Absent for hand-built steps (tests, tools), whose slots are checked here.
   */
  readonly row?: number;
}

/** A batched forward step: ragged prefill, extend and decode sequences mixed freely. */
export interface StepDescriptor {
  readonly sequences: readonly StepSequence[];
}

/** Counts that size a step's tensors. */
export function stepSize(step: StepDescriptor): { tokens: number; logitRows: number } {
  let tokens = 0;
  let logitRows = 0;
  for (const s of step.sequences) {
    tokens += s.tokens.length;
    logitRows += s.tokens.length - s.logitsFrom;
  }
  return { tokens, logitRows };
}

/** Checks a step for the mistakes that would otherwise surface as out-of-range reads inside ORT. */
export function validateStep(step: StepDescriptor, poolSlots: number): void {
  if (step.sequences.length === 0) throw new RangeError('step.sequences is empty');
  step.sequences.forEach((s, i) => {
    if (s.tokens.length === 0) throw new RangeError(`step.sequences[${i}].tokens is empty`);
    if (s.newSlots.length !== s.tokens.length) {
      throw new RangeError(`step.sequences[${i}].newSlots has ${s.newSlots.length} slots for ${s.tokens.length} tokens`);
    }
    if (!(s.logitsFrom >= 0 && s.logitsFrom <= s.tokens.length)) {
      throw new RangeError(`step.sequences[${i}].logitsFrom ${s.logitsFrom} is outside 0..${s.tokens.length}`);
    }
    for (const slots of s.row === undefined ? [s.cachedSlots, s.newSlots] : []) {
      for (let j = 0; j < slots.length; j++) {
        const slot = slots[j]!;
        if (!(slot >= 0 && slot < poolSlots)) throw new RangeError(`step.sequences[${i}] uses slot ${slot} outside the pool of ${poolSlots}`);
      }
    }
  });
}
