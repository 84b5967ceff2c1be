import type { ModelConfig } from '../model/config.js';

/**
 * Rotary inverse frequencies as transformers computes them (float32 arithmetic), including the
 * `linear` and `llama3` scalings.
 */
export function ropeInverseFrequencies(cfg: ModelConfig): Float32Array {
  const half = cfg.headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    inv[i] = Math.fround(1 / Math.fround(Math.pow(cfg.ropeTheta, Math.fround((2 * i) / cfg.headDim))));
  }
  const s = cfg.ropeScaling;
  if (s.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = Math.fround(inv[i]! / s.factor);
  } else if (s.type === 'llama3') {
    const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) inv[i] = Math.fround(f / s.factor);
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = Math.fround((1 - smooth) * (f / s.factor) + smooth * f);
      }
    }
  }
  return inv;
}

/** cos/sin rows per position, grown on demand (positions are unbounded by the table). */
export class RopeTable {
  private readonly inv: Float32Array;
  private readonly half: number;
  private cos = new Float32Array(0);
  private sin = new Float32Array(0);
  private rows = 0;

  constructor(cfg: ModelConfig) {
    this.inv = ropeInverseFrequencies(cfg);
    this.half = cfg.headDim / 2;
  }

  private ensure(rows: number): void {
    if (rows <= this.rows) return;
    const n = Math.max(rows, this.rows * 2, 256);
    const cos = new Float32Array(n * this.half);
    const sin = new Float32Array(n * this.half);
    for (let p = 0; p < n; p++) {
      for (let i = 0; i < this.half; i++) {
        const angle = Math.fround(p * this.inv[i]!);
        cos[p * this.half + i] = Math.cos(angle);
        sin[p * this.half + i] = Math.sin(angle);
      }
    }
    this.cos = cos;
    this.sin = sin;
    this.rows = n;
  }

  /** Fills [T, headDim/2] cos and sin arrays for the given positions. */
  fill(positions: ArrayLike<number>, cosOut: Float32Array, sinOut: Float32Array): void {
    let max = 0;
    for (let t = 0; t < positions.length; t++) max = Math.max(max, positions[t]!);
    this.ensure(max + 1);
    const h = this.half;
    for (let t = 0; t < positions.length; t++) {
      const src = positions[t]! * h;
      cosOut.set(this.cos.subarray(src, src + h), t * h);
      sinOut.set(this.sin.subarray(src, src + h), t * h);
    }
  }
}
