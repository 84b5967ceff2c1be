import { randomInt } from 'node:crypto';
import { SamplingParamError } from './sampling-errors.js';

const MASK64 = (1n << 64n) - 1n;
// Unseeded requests draw their seed below crypto.randomInt's largest range (2^48 − 1).
const ENTROPY_SEED_LIMIT = 2 ** 48 - 1;

/**
 * A seeded pseudo-random stream (xoshiro128**, state filled by splitmix64), one per request:
 * the same seed gives the same stream, whatever else runs in the batch. 32-bit operations only,
 * so each draw costs a few integer instructions in JS.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(readonly seed: number) {
    // splitmix64's mixer is a bijection with mix(0) = 0: distinct seeds give distinct states, and
    // two consecutive outputs are never both zero (all-zero is the one state xoshiro cannot leave).
    let x = BigInt.asUintN(64, BigInt(seed));
    const next = (): bigint => {
      x = (x + 0x9e3779b97f4a7c15n) & MASK64;
      let z = x;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
      return z ^ (z >> 31n);
    };
    const a = next();
    const b = next();
    this.s0 = Number(a & 0xffffffffn);
    this.s1 = Number(a >> 32n);
    this.s2 = Number(b & 0xffffffffn);
    this.s3 = Number(b >> 32n);
  }

  /**
   * A stream determined by `seed` (any safe integer, negative ones included).
   * @throws SamplingParamError naming `seed` when it is not a safe integer.
   */
  static fromSeed(seed: number): Rng {
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
      throw new SamplingParamError('seed', `must be a safe integer (got ${String(seed)})`);
    }
    return new Rng(seed);
  }

  /** A stream from a seed drawn with node:crypto; `seed` tells it, so the output can be reproduced. */
  static fromEntropy(): Rng {
    return new Rng(randomInt(ENTROPY_SEED_LIMIT));
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
