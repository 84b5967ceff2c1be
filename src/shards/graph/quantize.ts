/** Weight precisions arbor builds graphs for. */
export type WeightDType = 'fp32' | 'q8' | 'q4';

/** MatMulNBits's layout for a blocked, asymmetric quantization of an [N, K] matrix. */
export interface QuantizedBlocks {
  readonly bits: 4 | 8;
  readonly blockSize: number;
  readonly blocksPerCol: number;
  /** [N, blocksPerCol, blockSize·bits/8] bytes; 4-bit values two per byte, low nibble first. */
  readonly packed: Uint8Array;
  /** [N · blocksPerCol] scales. */
  readonly scales: Float32Array;
  /** Zero points: 8-bit one byte per block; 4-bit [N, ceil(blocksPerCol/2)] two per byte, low nibble first. */
  readonly zeroPoints: Uint8Array;
}

/** Range shrink factors tried per block; clipping a few outliers often lowers the block's error. */
const SHRINK = [1, 0.95, 0.9, 0.85, 0.8, 0.75];

/**
 * Quantizes an [N, K] (out, in) matrix — the Hugging Face Linear layout, which is also
 * MatMulNBits's — in blocks of `blockSize` along K, with a scale and zero point per block
 * (asymmetric keeps more precision than symmetric). K is zero-padded up to a whole block.
 */
export function quantizeBlocks(w: Float32Array, n: number, k: number, blockSize: number, bits: 4 | 8): QuantizedBlocks {
  const levels = (1 << bits) - 1;
  const blocksPerCol = Math.ceil(k / blockSize);
  const blockBytes = (blockSize * bits) / 8;
  const packed = new Uint8Array(n * blocksPerCol * blockBytes);
  const scales = new Float32Array(n * blocksPerCol);
  const zpStride = bits === 4 ? Math.ceil(blocksPerCol / 2) : blocksPerCol;
  const zeroPoints = new Uint8Array(n * zpStride);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < blocksPerCol; b++) {
      const start = b * blockSize;
      const end = Math.min(start + blockSize, k);
      const { scale, zp } = bestRange(w, col * k + start, end - start, levels);
      scales[col * blocksPerCol + b] = scale;
      if (bits === 4) zeroPoints[col * zpStride + (b >> 1)]! |= zp << ((b & 1) * 4);
      else zeroPoints[col * zpStride + b] = zp;
      const base = (col * blocksPerCol + b) * blockBytes;
      for (let i = 0; i < blockSize; i++) {
        const v = start + i < end ? w[col * k + start + i]! : 0;
        const q = Math.max(0, Math.min(levels, Math.round(v / scale) + zp));
        if (bits === 4) packed[base + (i >> 1)]! |= q << ((i & 1) * 4);
        else packed[base + i] = q;
      }
    }
  }
  return { bits, blockSize, blocksPerCol, packed, scales, zeroPoints };
}

/** The scale and zero point for w[at..at+n) with the least squared error among shrunken min/max ranges. */
function bestRange(w: Float32Array, at: number, n: number, levels: number): { scale: number; zp: number } {
  let lo = 0;
  let hi = 0;
  for (let i = at; i < at + n; i++) {
    if (w[i]! < lo) lo = w[i]!;
    if (w[i]! > hi) hi = w[i]!;
  }
  const mid = Math.round(levels / 2);
  if (!(hi > lo)) return { scale: 1, zp: mid };
  let best = { scale: 1, zp: mid };
  let bestErr = Infinity;
  for (const f of SHRINK) {
    const scale = Math.fround(((hi - lo) * f) / levels);
    const zp = Math.max(0, Math.min(levels, Math.round((-lo * f) / scale)));
    let err = 0;
    for (let i = at; i < at + n; i++) {
      const q = Math.max(0, Math.min(levels, Math.round(w[i]! / scale) + zp));
      const d = (q - zp) * scale - w[i]!;
      err += d * d;
    }
    if (err < bestErr) {
      bestErr = err;
      best = { scale, zp };
    }
  }
  return best;
}
