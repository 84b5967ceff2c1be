/** Weight precisions arbor builds graphs for. */
export type WeightDType = 'fp32' | 'q8' | 'q4';

/** Per-column symmetric int8 of a [K, N] (in, out) matrix, for DynamicQuantizeMatMul. */
export function quantizeInt8PerColumn(w: Float32Array, k: number, n: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) {
      const a = Math.abs(w[row + c]!);
      if (a > scale[c]!) scale[c] = a;
    }
  }
  for (let c = 0; c < n; c++) scale[c] = scale[c]! > 0 ? scale[c]! / 127 : 1;
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) q[row + c] = Math.max(-127, Math.min(127, Math.round(w[row + c]! / scale[c]!)));
  }
  return { q, scale };
}

/** MatMulNBits's packed layout for a 4-bit, asymmetric, blocked quantization. */
export interface Int4Blocks {
  /** [N, blocksPerCol, blockSize / 2] bytes, low nibble first. */
  readonly packed: Uint8Array;
  /** [N * blocksPerCol] scales. */
  readonly scales: Float32Array;
  /** [N, ceil(blocksPerCol / 2)] zero points, low nibble first. */
  readonly zeroPoints: Uint8Array;
  readonly blocksPerCol: number;
}

/**
 * Quantizes an [N, K] (out, in) matrix — the Hugging Face Linear layout — to 4 bits in blocks of
 * `blockSize` along K with a scale and zero point per block (asymmetric keeps more precision than
 * symmetric at 16 levels). K is zero-padded up to a whole block.
 */
export function quantizeInt4Blocks(w: Float32Array, n: number, k: number, blockSize: number): Int4Blocks {
  const blocksPerCol = Math.ceil(k / blockSize);
  const blob = blockSize / 2;
  const packed = new Uint8Array(n * blocksPerCol * blob);
  const scales = new Float32Array(n * blocksPerCol);
  const zpStride = Math.ceil(blocksPerCol / 2);
  const zeroPoints = new Uint8Array(n * zpStride);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < blocksPerCol; b++) {
      const start = b * blockSize;
      const end = Math.min(start + blockSize, k);
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const v = w[col * k + i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const scale = hi > lo ? (hi - lo) / 15 : 1;
      const zp = Math.max(0, Math.min(15, Math.round(-lo / scale)));
      scales[col * blocksPerCol + b] = scale;
      zeroPoints[col * zpStride + (b >> 1)]! |= zp << ((b & 1) * 4);
      const base = (col * blocksPerCol + b) * blob;
      for (let i = 0; i < blockSize; i++) {
        const v = start + i < end ? w[col * k + start + i]! : 0;
        const q = Math.max(0, Math.min(15, Math.round(v / scale) + zp));
        packed[base + (i >> 1)]! |= q << ((i & 1) * 4);
      }
    }
  }
  return { packed, scales, zeroPoints, blocksPerCol };
}
