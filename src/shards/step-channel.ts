import type { StepDescriptor, StepSequence } from './step.js';
import { SlotTable } from '../kvcache/slot-table.js';
import { placeVocabSlice, sumInRankOrder } from './tp-combine.js';

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
const HEADER = 2;
/** Per sequence: token count, cached length, logitsFrom, slot-table row. */
const PER_SEQ = 4;

/** Sizes of a channel's buffers. */
export interface StepChannelLimits {
  readonly tp: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** Most tokens in one step. */
  readonly maxStepTokens: number;
  /** Most logits rows in one step. */
  readonly maxLogitRows: number;
  /** Most sequences in one step (rows of the slot table: the engine's maxRunningRequests). */
  readonly maxSequences: number;
  /** Most tokens of one sequence (width of the slot table: the engine's contextLength). */
  readonly maxSequenceTokens: number;
  /** KV slots in each shard's pool (slot ids are below it). */
  readonly poolSlots: number;
}

/** The SharedArrayBuffers of a step channel (posted to each shard worker once, at start). */
export interface StepChannelBuffers {
  readonly limits: StepChannelLimits;
  readonly control: SharedArrayBuffer;
  readonly descriptor: SharedArrayBuffer;
  /** The scheduler's {@link SlotTable}: each running request's slots, written once each. */
  readonly slotTable: SharedArrayBuffer;
  readonly reduce: SharedArrayBuffer;
  readonly logits: SharedArrayBuffer;
  readonly errorText: SharedArrayBuffer;
}

/**
 * The per-step data plane between the scheduler and the shards: step descriptors, all-reduce
 * partial sums and logits live in SharedArrayBuffers; Atomics wake and count (no postMessage per step).
 * A descriptor carries each sequence's tokens and (slot-table row, cached length); the slots
 * themselves stay in the slot table, so a decode step writes O(batch) words, not O(context).
 */
export class StepChannel {
  readonly control: Int32Array;
  readonly descriptor: Int32Array;
  readonly slotTable: SlotTable;
  readonly logits: Float32Array;
  private readonly reduce: Float32Array;
  private readonly errorText: Uint8Array;

  constructor(readonly buffers: StepChannelBuffers) {
    this.control = new Int32Array(buffers.control);
    this.descriptor = new Int32Array(buffers.descriptor);
    const { maxSequences, maxSequenceTokens, poolSlots } = buffers.limits;
    this.slotTable = SlotTable.fromShared(buffers.slotTable, maxSequences, maxSequenceTokens, poolSlots);
    this.reduce = new Float32Array(buffers.reduce);
    this.logits = new Float32Array(buffers.logits);
    this.errorText = new Uint8Array(buffers.errorText);
  }

  /** A channel over the scheduler's slot table (`limits` must match its rows, width and slot limit). */
  static allocate(limits: StepChannelLimits, slotTable: SlotTable): StepChannel {
    if (slotTable.rows !== limits.maxSequences || slotTable.width !== limits.maxSequenceTokens || slotTable.slotLimit !== limits.poolSlots) {
      throw new RangeError(`slot table ${slotTable.rows} × ${slotTable.width} (slots < ${slotTable.slotLimit}) does not match the channel's limits`);
    }
    const region = limits.maxStepTokens * limits.hiddenSize;
    return new StepChannel({
      limits,
      control: new SharedArrayBuffer(Ctrl.length * 4),
      descriptor: new SharedArrayBuffer((HEADER + PER_SEQ * limits.maxSequences + limits.maxStepTokens) * 4),
      slotTable: slotTable.shared,
      reduce: new SharedArrayBuffer(2 * limits.tp * region * 4),
      logits: new SharedArrayBuffer(limits.maxLogitRows * limits.vocabSize * 4),
      errorText: new SharedArrayBuffer(ERROR_TEXT_BYTES),
    });
  }

  /**
   * Writes a step for the shards (scheduler side). Every sequence must reference its slot-table
   * row, where the scheduler already wrote its cached and new slots.
   */
  writeStep(step: StepDescriptor): void {
    const { maxSequences, maxStepTokens } = this.buffers.limits;
    const seqs = step.sequences;
    if (seqs.length > maxSequences) throw new RangeError(`step has ${seqs.length} sequences, the channel holds ${maxSequences}`);
    let tokens = 0;
    for (const s of seqs) tokens += s.tokens.length;
    if (tokens > maxStepTokens) throw new RangeError(`step has ${tokens} tokens, the channel holds ${maxStepTokens}`);
    const d = this.descriptor;
    d[0] = seqs.length;
    let at = HEADER + PER_SEQ * seqs.length;
    seqs.forEach((s, i) => {
      if (s.row === undefined) throw new RangeError(`step.sequences[${i}].row is missing: a step channel sends slots through the slot table`);
      const h = HEADER + PER_SEQ * i;
      d[h] = s.tokens.length;
      d[h + 1] = s.cachedSlots.length;
      d[h + 2] = s.logitsFrom;
      d[h + 3] = s.row;
      for (let j = 0; j < s.tokens.length; j++) d[at++] = s.tokens[j]!;
    });
    d[1] = at;
  }

  /**
   * Reads the current step (shard side). Tokens are copies; the slots are views of the slot table,
   * valid while this step runs (the scheduler writes rows only between steps).
   */
  readStep(): StepDescriptor {
    const d = this.descriptor;
    const n = d[0]!;
    let at = HEADER + PER_SEQ * n;
    const sequences: StepSequence[] = [];
    for (let i = 0; i < n; i++) {
      const h = HEADER + PER_SEQ * i;
      const tokens = d[h]!;
      const cached = d[h + 1]!;
      const row = d[h + 3]!;
      sequences.push({
        tokens: d.slice(at, at + tokens),
        cachedSlots: this.slotTable.view(row, 0, cached),
        newSlots: this.slotTable.view(row, cached, tokens),
        logitsFrom: d[h + 2]!,
        row,
      });
      at += tokens;
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
    const regions = Array.from({ length: tp }, (_, r) => this.reduce.subarray(half + r * region, half + r * region + partial.length));
    return sumInRankOrder(regions, partial.length);
  }

  /** Copies a shard's vocabulary slice of each logits row into the shared full rows. */
  writeLogits(part: Float32Array, rows: number, vocabStart: number, vocabLocal: number): void {
    placeVocabSlice(this.logits, part, rows, this.buffers.limits.vocabSize, vocabStart, vocabLocal);
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
