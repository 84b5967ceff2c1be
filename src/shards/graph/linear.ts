import { DType } from './onnx-builder.js';
import type { Dim, FloatType, OnnxGraphBuilder } from './onnx-builder.js';
import { quantizeBlocks } from './quantize.js';
import type { ShardDType } from '../device.js';
import { toFloat16 } from './float16.js';

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

/** A float weight stored in the activations' float type (float32, or float16 bits). */
export function floatWeight(g: OnnxGraphBuilder, name: string, dims: readonly Dim[], w: Float32Array, type: FloatType): string {
  return type === DType.float ? g.weight(name, DType.float, dims as number[], w) : g.weight(name, DType.float16, dims as number[], toFloat16(w));
}

/**
 * Emits `x @ W^T (+ bias)` for a Hugging Face Linear weight W of shape [outFeatures, inFeatures],
 * in the requested weight precision; `act` is the float type of `x` (and of scales and bias).
 */
export function emitLinear(
  g: OnnxGraphBuilder,
  x: string,
  name: string,
  w: Float32Array,
  outFeatures: number,
  inFeatures: number,
  dtype: ShardDType,
  act: FloatType,
  bias?: Float32Array,
): string {
  let y: string;
  if (dtype === 'fp32' || dtype === 'fp16') {
    y = g.op('MatMul', [x, floatWeight(g, name, [inFeatures, outFeatures], transpose(w, outFeatures, inFeatures), act)]);
  } else {
    const { bits, blockSize } = NBITS[dtype];
    const q = quantizeBlocks(w, outFeatures, inFeatures, blockSize, bits);
    y = g.op(
      'MatMulNBits',
      [
        x,
        g.weight(`${name}.${dtype}`, DType.uint8, [outFeatures, q.blocksPerCol, (blockSize * bits) / 8], q.packed),
        floatWeight(g, `${name}.scales`, [outFeatures * q.blocksPerCol], q.scales, act),
        g.weight(`${name}.zp`, DType.uint8, [q.zeroPoints.length], q.zeroPoints),
      ],
      { K: inFeatures, N: outFeatures, bits, block_size: blockSize, accuracy_level: 4 },
      'com.microsoft',
    );
  }
  return bias ? g.op('Add', [y, floatWeight(g, `${name}.bias`, [outFeatures], bias, act)]) : y;
}
