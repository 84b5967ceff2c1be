import { DType } from './onnx-builder.js';
import type { OnnxGraphBuilder } from './onnx-builder.js';
import { quantizeBlocks } from './quantize.js';
import type { WeightDType } from './quantize.js';

/**
 * MatMulNBits settings per precision. q4: blocks of 128 with accuracy_level 4 (the fastest 4-bit
 * kernel measured here). q8: blocks of 32 — DynamicQuantizeMatMul was faster for large M but its
 * per-tensor activation quantization agreed with fp32's top-1 at only 93% of arbor-tiny's
 * positions, against 98% for this kernel (docs/ARCHITECTURE.md).
 */
const NBITS = { q4: { bits: 4, blockSize: 128 }, q8: { bits: 8, blockSize: 32 } } as const;

/** Transposes a row-major [rows, cols] matrix into a new [cols, rows] one. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[src + c]!;
  }
  return out;
}

/**
 * Emits `x @ W^T (+ bias)` for a Hugging Face Linear weight W of shape [outFeatures, inFeatures],
 * in the requested weight precision.
 */
export function emitLinear(
  g: OnnxGraphBuilder,
  x: string,
  name: string,
  w: Float32Array,
  outFeatures: number,
  inFeatures: number,
  dtype: WeightDType,
  bias?: Float32Array,
): string {
  let y: string;
  if (dtype === 'fp32') {
    y = g.op('MatMul', [x, g.weight(name, DType.float, [inFeatures, outFeatures], transpose(w, outFeatures, inFeatures))]);
  } else {
    const { bits, blockSize } = NBITS[dtype];
    const q = quantizeBlocks(w, outFeatures, inFeatures, blockSize, bits);
    y = g.op(
      'MatMulNBits',
      [
        x,
        g.weight(`${name}.${dtype}`, DType.uint8, [outFeatures, q.blocksPerCol, (blockSize * bits) / 8], q.packed),
        g.weight(`${name}.scales`, DType.float, [outFeatures * q.blocksPerCol], q.scales),
        g.weight(`${name}.zp`, DType.uint8, [q.zeroPoints.length], q.zeroPoints),
      ],
      { K: inFeatures, N: outFeatures, bits, block_size: blockSize, accuracy_level: 4 },
      'com.microsoft',
    );
  }
  return bias ? g.op('Add', [y, g.weight(`${name}.bias`, DType.float, [outFeatures], bias)]) : y;
}
