/**
 * Seeded pseudo-random numbers for benchmark weights. Each tensor gets its own stream seeded from
 * its name, so a tensor's values do not depend on the order tensors are written in.
 */

/** 32-bit FNV-1a of a string: turns a tensor name into a seed. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * sfc32 (128-bit state, period far beyond the ~10^8 draws of the largest tensor) with uniform
 * integers and Box–Muller normals on top. Not cryptographic; only reproducible.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;
  private spare: number | null = null;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = seed >>> 0;
    // sfc32's recommended warm-up: mixes a low-entropy seed through the state.
    for (let i = 0; i < 16; i++) this.uint32();
  }

  /** A uniform integer in [0, 2^32). */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in [0, n), n ≤ 2^32 (modulo bias is irrelevant for benchmark inputs). */
  below(n: number): number {
    return this.uint32() % n;
  }

  /** One N(0, 1) sample. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    // +0.5 keeps u1 away from 0, where log would diverge.
    const u1 = (this.uint32() + 0.5) / 4294967296;
    const u2 = this.uint32() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Fills `out` with mean + std · N(0, 1). */
  fillNormal(out: Float32Array, mean: number, std: number): void {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
  }
}
