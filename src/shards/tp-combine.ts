/**
 * How tensor-parallel shards' outputs are combined — shared by the worker path (StepChannel, over
 * SharedArrayBuffers) and the in-thread path (LocalTensorParallel), so both give the same bits.
 */

/**
 * Element-wise sum of `length` values of each partial, in rank order: every shard sums in this
 * order, so all shards hold bit-identical results.
 */
export function sumInRankOrder(partials: readonly Float32Array[], length: number): Float32Array {
  const sum = new Float32Array(length);
  for (const part of partials) {
    for (let i = 0; i < length; i++) sum[i]! += part[i]!;
  }
  return sum;
}

/** Copies a shard's vocabulary slice of each of `rows` logits rows into full rows of width `vocabSize`. */
export function placeVocabSlice(full: Float32Array, part: Float32Array, rows: number, vocabSize: number, vocabStart: number, vocabLocal: number): void {
  for (let r = 0; r < rows; r++) full.set(part.subarray(r * vocabLocal, (r + 1) * vocabLocal), r * vocabSize + vocabStart);
}
