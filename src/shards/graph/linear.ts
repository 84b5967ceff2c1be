import { DType } from './onnx-builder.js';
import type { OnnxGraphBuilder } from './onnx-builder.js';
import { quantizeInt4Blocks, quantizeInt8PerColumn } from './quantize.js';
import type { WeightDType } from './quantize.js';

/** MatMulNBits block size along K; 128 with accuracy_level 4 was the fastest 4-bit kernel measured here. */
const Q4_BLOCK = 128;

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
  if (dtype === 'q4') {
    const q = quantizeInt4Blocks(w, outFeatures, inFeatures, Q4_BLOCK);
    y = g.op(
      'MatMulNBits',
      [
        x,
        g.weight(`${name}.q4`, DType.uint8, [outFeatures, q.blocksPerCol, Q4_BLOCK / 2], q.packed),
        g.weight(`${name}.scales`, DType.float, [outFeatures * q.blocksPerCol], q.scales),
        g.weight(`${name}.zp`, DType.uint8, [q.zeroPoints.length], q.zeroPoints),
      ],
      { K: inFeatures, N: outFeatures, bits: 4, block_size: Q4_BLOCK, accuracy_level: 4 },
      'com.microsoft',
    );
  } else {
    const wt = transpose(w, outFeatures, inFeatures);
    if (dtype === 'q8') {
      const q = quantizeInt8PerColumn(wt, inFeatures, outFeatures);
      y = g.op(
        'DynamicQuantizeMatMul',
        [
          x,
          g.weight(`${name}.q8`, DType.int8, [inFeatures, outFeatures], q.q),
          g.weight(`${name}.scale`, DType.float, [outFeatures], q.scale),
        ],
        {},
        'com.microsoft',
      );
    } else {
      y = g.op('MatMul', [x, g.weight(name, DType.float, [inFeatures, outFeatures], wt)]);
    }
  }
  return bias ? g.op('Add', [y, g.weight(`${name}.bias`, DType.float, [outFeatures], bias)]) : y;
}
