import type { WeightStore } from '../../model/weights.js';

/** Rows [start, start+count) of a row-major [rows, cols] matrix. */
export function sliceRows(data: Float32Array, cols: number, start: number, count: number): Float32Array {
  return data.slice(start * cols, (start + count) * cols);
}

/** Columns [start, start+count) of a row-major [rows, cols] matrix. */
export function sliceCols(data: Float32Array, rows: number, cols: number, start: number, count: number): Float32Array {
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + start, r * cols + start + count), r * count);
  return out;
}

/** Concatenates matrices that share their column count (stacking rows). */
export function concatRows(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads `name` ([rows, cols]) and keeps rows [start, start+count): a column-parallel slice of a Linear. */
export function readRowSlice(w: WeightStore, name: string, rows: number, cols: number, start: number, count: number): Float32Array {
  const t = w.get(name, cols === 0 ? [rows] : [rows, cols]).data;
  return count === rows ? t : sliceRows(t, Math.max(cols, 1), start, count);
}
