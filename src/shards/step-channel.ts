import type { StepDescriptor, StepSequence } from './step.js';

/** Indices into the control Int32Array shared by the scheduler and every shard. */
export const Ctrl = {
  /** Incremented by the scheduler to start a step. */
  step: 0,
  /** Shards that finished the current step. */
  done: 1,
  /** Non-zero once any shard failed the current step. */
  error: 2,
  /** All-reduce arrivals in the current step (reset per step). */
  barrier: 3,
  /** Non-zero asks the shard loops to exit. */
  shutdown: 4,
  length: 8,
} as const;

const ERROR_TEXT_BYTES = 4096;
const HEADER = 3;
const PER_SEQ = 3;

/** Sizes of a channel's buffers. */
export interface StepChannelLimits {
  readonly tp: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** Most tokens in one step. */
  readonly maxStepTokens: number;
  /** Most logits rows in one step. */
  readonly maxLogitRows: number;
  /** Most int32 words a step descriptor may take (tokens, slots, cached slots, per-sequence headers). */
  readonly descriptorWords: number;
}

/** The SharedArrayBuffers of a step channel (posted to each shard worker once, at start). */
export interface StepChannelBuffers {
  readonly limits: StepChannelLimits;
  readonly control: SharedArrayBuffer;
  readonly descriptor: SharedArrayBuffer;
  readonly reduce: SharedArrayBuffer;
  readonly logits: SharedArrayBuffer;
  readonly errorText: SharedArrayBuffer;
}

/**
 * The per-step data plane between the scheduler and the shards: step descriptors, all-reduce
 * partial sums and logits live in SharedArrayBuffers; Atomics wake and count (no postMessage per step).
 */
export class StepChannel {
  readonly control: Int32Array;
  readonly descriptor: Int32Array;
  readonly logits: Float32Array;
  private readonly reduce: Float32Array;
  private readonly errorText: Uint8Array;

  constructor(readonly buffers: StepChannelBuffers) {
    this.control = new Int32Array(buffers.control);
    this.descriptor = new Int32Array(buffers.descriptor);
    this.reduce = new Float32Array(buffers.reduce);
    this.logits = new Float32Array(buffers.logits);
    this.errorText = new Uint8Array(buffers.errorText);
  }

  static allocate(limits: StepChannelLimits): StepChannel {
    const region = limits.maxStepTokens * limits.hiddenSize;
    return new StepChannel({
      limits,
      control: new SharedArrayBuffer(Ctrl.length * 4),
      descriptor: new SharedArrayBuffer(limits.descriptorWords * 4),
      reduce: new SharedArrayBuffer(2 * limits.tp * region * 4),
      logits: new SharedArrayBuffer(limits.maxLogitRows * limits.vocabSize * 4),
      errorText: new SharedArrayBuffer(ERROR_TEXT_BYTES),
    });
  }

  /** Words a step needs in the descriptor. */
  static descriptorWordsFor(step: StepDescriptor): number {
    let words = HEADER;
    for (const s of step.sequences) words += PER_SEQ + 2 * s.tokens.length + s.cachedSlots.length;
    return words;
  }

  /** Writes a step for the shards (scheduler side). */
  writeStep(step: StepDescriptor): void {
    const need = StepChannel.descriptorWordsFor(step);
    if (need > this.descriptor.length) throw new RangeError(`step needs ${need} descriptor words, the channel holds ${this.descriptor.length}`);
    const d = this.descriptor;
    const seqs = step.sequences;
    d[0] = seqs.length;
    let at = HEADER + PER_SEQ * seqs.length;
    seqs.forEach((s, i) => {
      d[HEADER + PER_SEQ * i] = s.tokens.length;
      d[HEADER + PER_SEQ * i + 1] = s.cachedSlots.length;
      d[HEADER + PER_SEQ * i + 2] = s.logitsFrom;
      for (const arr of [s.tokens, s.newSlots, s.cachedSlots]) {
        for (let j = 0; j < arr.length; j++) d[at++] = arr[j]!;
      }
    });
    d[1] = at;
  }

  /** Reads the current step (shard side); the arrays are copies, safe after the next step is written. */
  readStep(): StepDescriptor {
    const d = this.descriptor;
    const n = d[0]!;
    let at = HEADER + PER_SEQ * n;
    const sequences: StepSequence[] = [];
    for (let i = 0; i < n; i++) {
      const tokens = d[HEADER + PER_SEQ * i]!;
      const cached = d[HEADER + PER_SEQ * i + 1]!;
      const logitsFrom = d[HEADER + PER_SEQ * i + 2]!;
      const take = (len: number) => {
        const out = d.slice(at, at + len);
        at += len;
        return out;
      };
      sequences.push({ tokens: take(tokens), newSlots: take(tokens), cachedSlots: take(cached), logitsFrom });
    }
    return { sequences };
  }

  /**
   * All-reduce of `partial` across shards (shard side, blocking): publish into this shard's region,
   * wait for every shard, then sum all regions in rank order so every shard gets identical sums.
   * Regions alternate between two halves, so a fast shard never overwrites a sum still being read.
   * @param index how many all-reduces this shard already did in this step.
   */
  allReduce(rank: number, index: number, partial: Float32Array): Float32Array {
    const { tp, maxStepTokens, hiddenSize } = this.buffers.limits;
    const region = maxStepTokens * hiddenSize;
    const half = (index % 2) * tp * region;
    this.reduce.set(partial, half + rank * region);
    Atomics.add(this.control, Ctrl.barrier, 1);
    Atomics.notify(this.control, Ctrl.barrier);
    const target = (index + 1) * tp;
    for (;;) {
      const seen = Atomics.load(this.control, Ctrl.barrier);
      if (seen >= target) break;
      if (Atomics.load(this.control, Ctrl.error) !== 0) throw new Error('another shard failed this step');
      Atomics.wait(this.control, Ctrl.barrier, seen, 100);
    }
    const sum = new Float32Array(partial.length);
    for (let r = 0; r < tp; r++) {
      const src = this.reduce.subarray(half + r * region, half + r * region + partial.length);
      for (let i = 0; i < sum.length; i++) sum[i]! += src[i]!;
    }
    return sum;
  }

  /** Copies a shard's vocabulary slice of each logits row into the shared full rows. */
  writeLogits(part: Float32Array, rows: number, vocabStart: number, vocabLocal: number): void {
    const V = this.buffers.limits.vocabSize;
    for (let r = 0; r < rows; r++) this.logits.set(part.subarray(r * vocabLocal, (r + 1) * vocabLocal), r * V + vocabStart);
  }

  /** Marks the step failed with a message (first failure wins). */
  fail(message: string): void {
    if (Atomics.compareExchange(this.control, Ctrl.error, 0, 1) !== 0) return;
    const bytes = new TextEncoder().encode(message).slice(0, ERROR_TEXT_BYTES - 4);
    new DataView(this.buffers.errorText).setInt32(0, bytes.length, true);
    this.errorText.set(bytes, 4);
  }

  errorMessage(): string {
    const len = new DataView(this.buffers.errorText).getInt32(0, true);
    return new TextDecoder().decode(this.errorText.slice(4, 4 + len));
  }
}
